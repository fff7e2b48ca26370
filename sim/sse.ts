/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One SSE event: an `event:` line when named, one `data:` line, a blank line. */
export function sseEvent(event: string | undefined, data: unknown): string {
  const payload = typeof data === "string" ? data : JSON.stringify(data);
  return event ? `event: ${event}\ndata: ${payload}\n\n` : `data: ${payload}\n\n`;
}

/**
 * A stream that sends one event per chunk, only when the reader asks (highWaterMark 0), with `delayMs`
 * between events. One event per chunk is relied on by the stream faults, which count chunks.
 */
export function eventStream(events: string[], delayMs: number): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let i = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const event = events[i];
        if (event === undefined) {
          controller.close();
          return;
        }
        if (i > 0 && delayMs > 0) await sleep(delayMs);
        i++;
        controller.enqueue(encoder.encode(event));
      },
    },
    { highWaterMark: 0 },
  );
}

/** A `text/event-stream` response over the given events. */
export function sseResponse(events: string[], delayMs: number, headers: Record<string, string>): Response {
  return new Response(eventStream(events, delayMs), {
    status: 200,
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", ...headers },
  });
}

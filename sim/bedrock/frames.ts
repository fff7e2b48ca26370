import { EventStreamCodec } from "@smithy/core/event-streams";
import { sleep } from "../sse.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** AWS event-stream framing through the AWS SDK's own codec. */
export const codec = new EventStreamCodec(
  (bytes) => decoder.decode(bytes),
  (text) => encoder.encode(text),
);

/** One `:message-type: event` message with a JSON payload. */
export function eventFrame(type: string, payload: unknown): Uint8Array {
  return codec.encode({
    headers: {
      ":event-type": { type: "string", value: type },
      ":content-type": { type: "string", value: "application/json" },
      ":message-type": { type: "string", value: "event" },
    },
    body: encoder.encode(JSON.stringify(payload)),
  });
}

/**
 * A `application/vnd.amazon.eventstream` response: one message per chunk, sent when the reader asks
 * (highWaterMark 0), `delayMs` apart (the stream faults count chunks).
 */
export function eventStreamResponse(
  frames: Uint8Array[],
  delayMs: number,
  headers: Record<string, string>,
): Response {
  let i = 0;
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const frame = frames[i];
        if (frame === undefined) {
          controller.close();
          return;
        }
        if (i > 0 && delayMs > 0) await sleep(delayMs);
        i++;
        controller.enqueue(frame);
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, {
    status: 200,
    headers: { "content-type": "application/vnd.amazon.eventstream", ...headers },
  });
}

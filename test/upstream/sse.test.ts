import { describe, expect, it, vi } from "vitest";
import { hideStreamUsage } from "../../src/upstream/openai-stream-usage.ts";
import { pipeSse, type StreamEnd } from "../../src/upstream/sse.ts";
import { anthropicWatcher, openAIChatWatcher } from "../../src/upstream/watchers.ts";

const enc = new TextEncoder();

/** A body delivered in pieces of `size` bytes, to cut events and UTF-8 sequences at every boundary. */
function chunked(text: string, size: number): ReadableStream<Uint8Array> {
  const bytes = enc.encode(text);
  let i = 0;
  return new ReadableStream({
    pull(c) {
      if (i >= bytes.length) return c.close();
      c.enqueue(bytes.slice(i, i + size));
      i += size;
    },
  });
}

const ANTHROPIC_SSE = [
  'event: message_start\ndata: {"type":"message_start","message":{"id":"m","usage":{"input_tokens":10,"cache_creation_input_tokens":200,"cache_read_input_tokens":3000,"cache_creation":{"ephemeral_5m_input_tokens":150,"ephemeral_1h_input_tokens":50},"output_tokens":1}}}\n\n',
  'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"héllo ✓"}}\n\n',
  'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":42}}\n\n',
  'event: message_stop\ndata: {"type":"message_stop"}\n\n',
].join("");

async function run(
  body: ReadableStream<Uint8Array>,
  opts: { rewrite?: typeof hideStreamUsage; watcher?: "anthropic" | "openai" } = {},
) {
  const watcher = opts.watcher === "openai" ? openAIChatWatcher() : anthropicWatcher();
  let end: StreamEnd | undefined;
  const out = pipeSse(body, {
    watcher,
    rewrite: opts.rewrite,
    errorEvent: (reason) => `event: error\ndata: {"reason":"${reason}"}\n\n`,
    onEnd: (e) => {
      end = e;
    },
  });
  const text = await new Response(out).text();
  return { text, end, usage: watcher.usage() };
}

describe("pipeSse", () => {
  it.each([1, 3, 7, 64, 4096])(
    "passes bytes through unchanged and reads usage with %i-byte chunks",
    async (size) => {
      const { text, end, usage } = await run(chunked(ANTHROPIC_SSE, size));
      expect(text).toBe(ANTHROPIC_SSE);
      expect(end).toBe("complete");
      expect(usage).toEqual({
        inputTokens: 3210,
        uncachedTokens: 10,
        cacheReadTokens: 3000,
        cacheWrite5mTokens: 150,
        cacheWrite1hTokens: 50,
        outputTokens: 42,
      });
    },
  );

  it("appends an error event when the stream ends before its terminal event", async () => {
    const cut = ANTHROPIC_SSE.slice(0, ANTHROPIC_SSE.indexOf("event: message_delta") + 30);
    const { text, end } = await run(chunked(cut, 16));
    expect(end).toBe("truncated");
    expect(text.startsWith(cut)).toBe(true);
    // The partial event is terminated first so the error event parses on its own.
    expect(text.slice(cut.length)).toBe('\n\nevent: error\ndata: {"reason":"truncated"}\n\n');
  });

  it("appends an error event when reading the upstream fails", async () => {
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (!sent) {
          sent = true;
          c.enqueue(enc.encode(ANTHROPIC_SSE.slice(0, 100)));
        } else c.error(new Error("reset"));
      },
    });
    const { text, end } = await run(body);
    expect(end).toBe("upstream_error");
    expect(text.endsWith('event: error\ndata: {"reason":"upstream_error"}\n\n')).toBe(true);
  });

  it("reports a client cancel once and stops reading the upstream", async () => {
    const ends: StreamEnd[] = [];
    let upstreamCancelled = false;
    const up = chunked(ANTHROPIC_SSE, 8);
    const upReader = up.getReader();
    const body = new ReadableStream<Uint8Array>({
      pull: async (c) => {
        const r = await upReader.read();
        if (r.done) c.close();
        else c.enqueue(r.value);
      },
      cancel: () => {
        upstreamCancelled = true;
      },
    });
    const out = pipeSse(body, {
      watcher: anthropicWatcher(),
      errorEvent: () => "",
      onEnd: (e) => ends.push(e),
    });
    const reader = out.getReader();
    await reader.read();
    await reader.cancel();
    // The relay hears of it when its next write fails.
    await vi.waitFor(() => expect(upstreamCancelled).toBe(true));
    await new Promise((r) => setTimeout(r, 10));
    expect(ends).toEqual(["client_cancelled"]);
  });
  it("hears a client that leaves through its request signal at once, while the upstream is silent", async () => {
    const ends: StreamEnd[] = [];
    let cancelled = false;
    let pulls = 0;
    const first = enc.encode('event: ping\ndata: {"type":"ping"}\n\n');
    // One event, then nothing: an upstream that pauses (a model thinking) before its next chunk.
    const body = new ReadableStream<Uint8Array>(
      {
        pull(c) {
          if (pulls++ === 0) c.enqueue(first);
          else return new Promise<void>(() => {});
        },
        cancel() {
          cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    const client = new AbortController();
    const out = pipeSse(body, {
      watcher: anthropicWatcher(),
      errorEvent: () => "",
      onEnd: (e) => ends.push(e),
      leaves: client.signal,
    });
    const reader = out.getReader();
    expect((await reader.read()).value).toEqual(first);
    client.abort();
    expect(ends).toEqual(["client_cancelled"]);
    await vi.waitFor(() => expect(cancelled).toBe(true));
    await expect(reader.read()).rejects.toThrow();
    expect(ends).toEqual(["client_cancelled"]);
  });
});

describe("hideStreamUsage", () => {
  const chunk = (extra: string) => `data: {"id":"c","object":"chat.completion.chunk","choices":${extra}}\n\n`;
  const withUsage = [
    chunk('[{"index":0,"delta":{"content":"hi"}}],"usage":null'),
    // Not last: the parse removes it all the same.
    'data: {"id":"c","usage":null,"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"!"}}]}\n\n',
    chunk(
      '[],"usage":{"prompt_tokens":1200,"completion_tokens":5,"total_tokens":1205,"prompt_tokens_details":{"cached_tokens":1024}}',
    ),
    "data: [DONE]\n\n",
  ].join("");

  it.each([1, 5, 64, 4096])(
    "removes the usage chunk and the null usage fields, keeps usage for Stoker (%i-byte chunks)",
    async (size) => {
      const { text, end, usage } = await run(chunked(withUsage, size), {
        rewrite: hideStreamUsage,
        watcher: "openai",
      });
      expect(end).toBe("complete");
      expect(text).toBe(
        `${chunk('[{"index":0,"delta":{"content":"hi"}}]')}data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"!"}}]}\n\ndata: [DONE]\n\n`,
      );
      expect(usage?.cacheReadTokens).toBe(1024);
      expect(usage?.uncachedTokens).toBe(176);
    },
  );

  it("passes a chunk of whole events that all stay as they came as its own bytes", async () => {
    const events = [
      chunk('[{"index":0,"delta":{"content":"hi"}}]'),
      ": keep-alive comment\n\n",
      `id: 7\n${chunk('[{"index":0,"delta":{"content":" there"}}]')}${chunk('[{"index":0,"delta":{},"finish_reason":"stop"}]')}`,
      "data: [DONE]\n\n",
    ].map((e) => enc.encode(e));
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        const next = events[i++];
        if (next) c.enqueue(next);
        else c.close();
      },
    });
    const out = pipeSse(body, {
      watcher: openAIChatWatcher(),
      rewrite: hideStreamUsage,
      errorEvent: () => "",
      onEnd: () => {},
    });
    const reader = out.getReader();
    const got: Uint8Array[] = [];
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      got.push(r.value);
    }
    // The very bytes the upstream sent, chunk for chunk (the comment and the id line too, which re-emitted
    // events would lose).
    expect(got).toHaveLength(events.length);
    for (const [k, c] of got.entries()) expect(c).toEqual(events[k]);
  });
});

import { describe, expect, it } from "vitest";
import { analyzeConverse } from "../../src/canonicalize/converse.ts";
import { DEFAULT_RULES } from "../../src/canonicalize/rules.ts";
import { DEFAULT_MODELS, modelInfo } from "../../src/economics/models.ts";
import { converseUsage, invokeStreamWatcher } from "../../src/upstream/bedrock.ts";
import { renderConverse } from "../../src/upstream/body/converse.ts";
import { encodeEvent, eventStreamCodec, pipeEventStream } from "../../src/upstream/eventstream.ts";

const codec = eventStreamCodec();
const chunk = (event: object) => encodeEvent(codec, "chunk", { bytes: btoa(JSON.stringify(event)) });

function source(parts: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(c) {
      const p = parts[i++];
      if (p) c.enqueue(p);
      else c.close();
    },
  });
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const out: number[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Uint8Array.from(out);
    out.push(...value);
  }
}

/** An `internalServerException` message, as the relay's error frame. */
function exceptionFrame(message: string): Uint8Array {
  return codec.encode({
    headers: {
      ":message-type": { type: "string", value: "exception" },
      ":exception-type": { type: "string", value: "internalServerException" },
    },
    body: new TextEncoder().encode(JSON.stringify({ message })),
  });
}

/** Splits bytes into event-stream messages and names each (`:event-type` or `:exception-type`). */
function names(bytes: Uint8Array): string[] {
  const out: string[] = [];
  for (let at = 0; at < bytes.byteLength; ) {
    const length = new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0);
    const m = codec.decode(bytes.subarray(at, at + length));
    out.push(String((m.headers[":event-type"] ?? m.headers[":exception-type"])?.value));
    at += length;
  }
  return out;
}

describe("Bedrock usage and event streams", () => {
  it("Converse usage: the prompt is inputTokens + cache reads + cache writes; cacheDetails splits the writes", () => {
    expect(
      converseUsage({
        inputTokens: 10,
        outputTokens: 5,
        totalTokens: 1315,
        cacheReadInputTokens: 1000,
        cacheWriteInputTokens: 300,
        cacheDetails: [
          { ttl: "1h", inputTokens: 200 },
          { ttl: "5m", inputTokens: 100 },
        ],
      }),
    ).toEqual({
      inputTokens: 1310,
      uncachedTokens: 10,
      cacheReadTokens: 1000,
      cacheWrite5mTokens: 100,
      cacheWrite1hTokens: 200,
      outputTokens: 5,
    });
  });

  it("passes whole messages only: usage read on the side, a split message held until complete", async () => {
    const start = chunk({
      type: "message_start",
      message: { usage: { input_tokens: 7, cache_read_input_tokens: 2000, output_tokens: 1 } },
    });
    const delta = chunk({ type: "message_delta", usage: { output_tokens: 12 } });
    const stop = chunk({ type: "message_stop" });
    const all = new Uint8Array([...start, ...delta, ...stop]);
    const watcher = invokeStreamWatcher();
    let ended = "";
    const out = await drain(
      pipeEventStream(
        source([
          all.subarray(0, 10),
          all.subarray(10, start.byteLength + 5),
          all.subarray(start.byteLength + 5),
        ]),
        {
          watcher,
          errorFrame: () => codec.encode({ headers: {}, body: new Uint8Array() }),
          onEnd: (end) => {
            ended = end;
          },
        },
      ),
    );
    expect(out).toEqual(all);
    expect(ended).toBe("complete");
    expect(watcher.usage()).toMatchObject({ uncachedTokens: 7, cacheReadTokens: 2000, outputTokens: 12 });
  });

  it("a stream cut inside a message ends with the exception message, never with the partial bytes", async () => {
    const start = chunk({ type: "message_start", message: { usage: { input_tokens: 7, output_tokens: 1 } } });
    const delta = chunk({ type: "content_block_delta", delta: { type: "text_delta", text: "hi" } });
    let ended = "";
    const out = await drain(
      pipeEventStream(source([start, delta.subarray(0, 20)]), {
        watcher: invokeStreamWatcher(),
        errorFrame: () => exceptionFrame("cut"),
        onEnd: (end) => {
          ended = end;
        },
      }),
    );
    expect(names(out)).toEqual(["chunk", "internalServerException"]);
    expect(ended).toBe("truncated");
  });

  it("a message it cannot read ends the stream with the exception message and stops reading the upstream", async () => {
    const start = chunk({ type: "message_start", message: { usage: { input_tokens: 7, output_tokens: 1 } } });
    const stop = chunk({ type: "message_stop" });
    // A prelude that declares 8 bytes: no event-stream message is that short.
    const corrupt = new Uint8Array([0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
    const parts = [start, corrupt, stop];
    let reads = 0;
    let cancelled = false;
    const upstream = new ReadableStream<Uint8Array>(
      {
        pull(c) {
          const p = parts[reads++];
          if (p) c.enqueue(p);
          else c.close();
        },
        cancel() {
          cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    const ends: string[] = [];
    const out = await drain(
      pipeEventStream(upstream, {
        watcher: invokeStreamWatcher(),
        errorFrame: () => exceptionFrame("unreadable"),
        onEnd: (end) => ends.push(end),
      }),
    );
    expect(names(out)).toEqual(["chunk", "internalServerException"]);
    expect(ends).toEqual(["upstream_error"]);
    expect(cancelled).toBe(true);
    expect(reads).toBe(2);
  });
});

describe("Bedrock models and Converse rendering", () => {
  it("finds the Claude row for Bedrock ids, profiles and versions included", () => {
    for (const id of [
      "anthropic.claude-sonnet-4-5-20250929-v1:0",
      "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
      "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
    ])
      expect(modelInfo(id, DEFAULT_MODELS, "bedrock")).toBe(DEFAULT_MODELS["claude-sonnet-4-5"]);
    expect(modelInfo("amazon.nova-pro-v1:0", DEFAULT_MODELS, "bedrock").known).toBe(false);
  });

  it("inserts a cachePoint after the planned block and keeps the client's own", () => {
    const body = {
      system: [{ text: "sys" }, { cachePoint: { type: "default" } }, { text: "more" }],
      messages: [{ role: "user", content: [{ text: "a" }, { text: "b" }] }],
    };
    const raw = JSON.stringify(body);
    const a = analyzeConverse({
      raw,
      body,
      salt: "s",
      rules: DEFAULT_RULES,
      modelId: "anthropic.claude-sonnet-4-5-v1:0",
    });
    expect(a.clientBreakpoints).toHaveLength(1);
    const seg = (area: string, index: number, block?: number) =>
      a.segments.findIndex(
        (s) => s.loc.area === area && s.loc.index === index && (block === undefined || s.loc.block === block),
      );
    const plan = {
      upstream: "anthropic" as const,
      breakpoints: [
        { segment: seg("system", 1), ttl: "1h" as const, role: "head" as const, tokens: 0 },
        { segment: seg("messages", 0, 0), ttl: "5m" as const, role: "tail" as const, tokens: 0 },
      ],
      clientBreakpoints: 1,
      autoCache: false,
      expected: { readTokens: 0, writeTokens: 0 },
      notes: [],
    };
    expect(JSON.parse(renderConverse(a, plan))).toEqual({
      system: [
        { text: "sys" },
        { cachePoint: { type: "default" } },
        { text: "more" },
        { cachePoint: { type: "default", ttl: "1h" } },
      ],
      messages: [
        { role: "user", content: [{ text: "a" }, { cachePoint: { type: "default" } }, { text: "b" }] },
      ],
    });
  });
});

import { describe, expect, it, vi } from "vitest";
import { hideDiagnostics } from "../../src/upstream/diagnostics.ts";
import { DiagnosticsNuller, relayJson } from "../../src/upstream/json-relay.ts";

// The streaming edit of a relayed JSON answer gives, for every split into chunks, the bytes the whole-body
// edit (hideDiagnostics, the buffered path) gives.

const answers = [
  // The provider's reason, after the content (a nested `diagnostics` inside content is not touched).
  '{"id":"msg_1","content":[{"type":"text","text":"a \\"diagnostics\\": {x} }"},{"diagnostics":{"a":1}}],"usage":{"input_tokens":3},"diagnostics":{"cache_miss_reason":{"type":"system_changed","cache_missed_input_tokens":12}},"stop_reason":"end_turn"}',
  // Before the content, with whitespace, a string holding braces and escapes.
  '{ "diagnostics" : { "note": "}{\\\\\\"]" , "n": [1, {"b": 2}] } , "id": "msg_2", "content": [] }',
  '{"id":"msg_3","diagnostics":null,"content":[]}',
  '{"id":"msg_4","diagnostics":"text, with } and \\"quotes\\"","content":[]}',
  '{"id":"msg_5","diagnostics":12}',
  '{"id":"msg_6","content":[{"type":"text","text":"no diagnostics at all"}]}',
];

function run(text: string, cuts: number[]): string {
  const n = new DiagnosticsNuller();
  let out = "";
  let from = 0;
  for (const c of [...cuts, text.length]) {
    out += n.push(text.slice(from, c));
    from = c;
  }
  return out + n.push("");
}

describe("the streaming diagnostics edit of a JSON answer", () => {
  for (const [k, text] of answers.entries()) {
    it(`answer ${k + 1}: the buffered edit's bytes, whatever the chunks`, () => {
      const expected = hideDiagnostics(text);
      expect(JSON.parse(expected).diagnostics ?? null).toBeNull();
      expect(run(text, [])).toBe(expected);
      for (let i = 0; i <= text.length; i++) expect(run(text, [i])).toBe(expected);
      for (let i = 0; i < text.length; i += 3)
        for (let j = i; j <= text.length; j += 5) expect(run(text, [i, j])).toBe(expected);
    });
  }
});

describe("relayJson", () => {
  it("passes the answer on as it arrives and hands the whole text to the side reader", async () => {
    const text = answers[0] as string;
    const bytes = new TextEncoder().encode(text);
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const upstream = new ReadableStream<Uint8Array>({
      async start(c) {
        c.enqueue(bytes.slice(0, 10));
        await gate; // the rest only after the client has read the first chunk
        c.enqueue(bytes.slice(10));
        c.close();
      },
    });
    const ended: (string | null)[] = [];
    const pending: Promise<unknown>[] = [];
    const client = (await relayJson(upstream, {
      hideDiagnostics: true,
      onEnd: (end, t) => ended.push(end === "complete" ? t : null),
      waitUntil: (p) => pending.push(p),
    })) as ReadableStream<Uint8Array>;
    const reader = client.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe(text.slice(0, 10));
    expect(ended).toEqual([]);
    release();
    let rest = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    await Promise.all(pending);
    expect(text.slice(0, 10) + rest).toBe(hideDiagnostics(text));
    expect(ended).toEqual([text]);
  });

  // The bytes of an answer, cut into chunks, as an upstream body whose reads are counted.
  function counted(text: string, cut: number, breakAfter = false) {
    const bytes = new TextEncoder().encode(text);
    const chunks = [bytes.slice(0, cut), bytes.slice(cut)];
    let reads = 0;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(c) {
          const next = chunks[reads++];
          if (next === undefined) c.close();
          else if (breakAfter && reads === 2) c.error(new Error("connection reset"));
          else c.enqueue(next);
        },
      },
      { highWaterMark: 0 },
    );
    return { body, reads: () => reads };
  }

  it("reads the upstream at most one chunk ahead of the client (a slow client holds it back)", async () => {
    const bytes = new TextEncoder().encode(answers[0] as string);
    const pieces = Array.from({ length: Math.ceil(bytes.length / 40) }, (_, k) =>
      bytes.slice(k * 40, k * 40 + 40),
    );
    expect(pieces.length).toBeGreaterThan(6);
    let reads = 0;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(c) {
          const next = pieces[reads++];
          if (next === undefined) c.close();
          else c.enqueue(next);
        },
      },
      { highWaterMark: 0 },
    );
    // No edit, so every upstream chunk is one client chunk.
    const client = (await relayJson(body, {
      hideDiagnostics: false,
      onEnd: () => {},
      waitUntil: () => {},
    })) as ReadableStream<Uint8Array>;
    const reader = client.getReader();
    for (let taken = 1; taken <= 4; taken++) {
      await reader.read();
      await new Promise((r) => setTimeout(r, 20));
      expect(reads).toBe(taken + 1);
    }
  });

  it("accounts the whole answer once when the client leaves after its first chunk", async () => {
    const text = answers[0] as string;
    const up = counted(text, 40);
    const ended: (string | null)[] = [];
    const pending: Promise<unknown>[] = [];
    const client = (await relayJson(up.body, {
      hideDiagnostics: true,
      onEnd: (end, t) => ended.push(end === "complete" ? t : end),
      waitUntil: (p) => pending.push(p),
    })) as ReadableStream<Uint8Array>;
    const reader = client.getReader();
    await reader.read();
    await reader.cancel("gone");
    // The relay hears of it when its next write fails, and reads the rest off the client's path.
    await vi.waitFor(() => expect(pending).toHaveLength(1));
    await Promise.all(pending);
    expect(ended).toEqual([text]);
  });

  it("breaks the client's copy and reports the break once when the upstream resets mid-body", async () => {
    for (const hide of [true, false]) {
      const up = counted(answers[0] as string, 40, true);
      const ended: (string | null)[] = [];
      const pending: Promise<unknown>[] = [];
      const client = (await relayJson(up.body, {
        hideDiagnostics: hide,
        onEnd: (end, t) => ended.push(end === "complete" ? t : end),
        waitUntil: (p) => pending.push(p),
      })) as ReadableStream<Uint8Array>;
      const reader = client.getReader();
      await reader.read();
      await expect(reader.read()).rejects.toThrow();
      await Promise.all(pending);
      expect(ended).toEqual(["upstream_error"]);
    }
  });

  // An upstream body in the given pieces (its reads counted), optionally breaking after the last one.
  function pieces(parts: Uint8Array[], breakAtEnd = false) {
    let reads = 0;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(c) {
          const next = parts[reads++];
          if (next !== undefined) c.enqueue(next);
          else if (breakAtEnd) c.error(new Error("connection reset"));
          else c.close();
        },
      },
      { highWaterMark: 0 },
    );
    return { body, reads: () => reads };
  }

  async function clientCopy(out: string | Uint8Array | ReadableStream<Uint8Array>): Promise<string> {
    if (typeof out === "string") return out;
    if (out instanceof Uint8Array) return new TextDecoder().decode(out);
    return new Response(out).text();
  }

  it("gives the client, for every split into chunks, the whole-body edit's bytes, and accounts the text once", async () => {
    const enc = new TextEncoder();
    for (const text of answers) {
      const bytes = enc.encode(text);
      for (const hide of [true, false]) {
        for (let cut = 0; cut <= bytes.length; cut++) {
          const parts = cut === 0 ? [bytes] : [bytes.slice(0, cut), bytes.slice(cut)];
          const up = pieces(parts);
          const ended: (string | null)[] = [];
          const pending: Promise<unknown>[] = [];
          const out = await relayJson(up.body, {
            hideDiagnostics: hide,
            onEnd: (end, t) => ended.push(end === "complete" ? t : end),
            waitUntil: (p) => pending.push(p),
          });
          expect(out).not.toBeNull();
          expect(await clientCopy(out as string)).toBe(hide ? hideDiagnostics(text) : text);
          await Promise.all(pending);
          expect(ended).toEqual([text]);
        }
      }
    }
  });

  it("answers an answer whole in its first chunk as it is, without a stream, after one more read", async () => {
    for (const hide of [true, false]) {
      const text = answers[0] as string;
      const up = pieces([new TextEncoder().encode(text)]);
      const ended: (string | null)[] = [];
      const out = await relayJson(up.body, {
        hideDiagnostics: hide,
        onEnd: (end, t) => ended.push(end === "complete" ? t : end),
        waitUntil: () => {},
      });
      expect(out).not.toBeInstanceOf(ReadableStream);
      expect(await clientCopy(out as string)).toBe(hide ? hideDiagnostics(text) : text);
      expect(up.reads()).toBe(2);
      expect(ended).toEqual([text]);
    }
  });

  it("flows a first chunk that closes an object before the answer's end, without waiting for more", async () => {
    const text = answers[1] as string;
    const cut = text.indexOf("}") + 1; // the end of a nested object
    const bytes = new TextEncoder().encode(text);
    const up = pieces([bytes.slice(0, cut), bytes.slice(cut, cut + 5), bytes.slice(cut + 5)]);
    const out = await relayJson(up.body, { hideDiagnostics: false, onEnd: () => {}, waitUntil: () => {} });
    expect(out).toBeInstanceOf(ReadableStream);
    expect(up.reads()).toBe(2); // the first chunk and the one that told it was not the end
    expect(await clientCopy(out as ReadableStream<Uint8Array>)).toBe(text);
  });

  it("answers null, and accounts nothing, when the upstream breaks before its first byte", async () => {
    const up = pieces([], true);
    const ended: unknown[] = [];
    const out = await relayJson(up.body, {
      hideDiagnostics: true,
      onEnd: (end) => ended.push(end),
      waitUntil: () => {},
    });
    expect(out).toBeNull();
    expect(ended).toEqual([]);
  });

  it("passes a whole-looking first chunk on and then breaks the client's copy when the upstream resets", async () => {
    const text = answers[2] as string;
    const up = pieces([new TextEncoder().encode(text)], true);
    const ended: unknown[] = [];
    const out = await relayJson(up.body, {
      hideDiagnostics: false,
      onEnd: (end) => ended.push(end),
      waitUntil: () => {},
    });
    const reader = (out as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe(text);
    await expect(reader.read()).rejects.toThrow();
    expect(ended).toEqual(["upstream_error"]);
  });
});

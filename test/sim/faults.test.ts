import { describe, expect, it } from "vitest";
import { freshNs, simulator, sseEvents } from "../support/sim.ts";
import { anthropicHeaders } from "../support/sim-anthropic.ts";

const MESSAGES = "/anthropic/v1/messages";
const body = {
  model: "claude-sonnet-4-5",
  max_tokens: 50,
  messages: [{ role: "user", content: "Hello there" }],
};
const CHAT = "/openai/v1/chat/completions";
const chat = { model: "gpt-4o", messages: [{ role: "user", content: "Hello there" }] };

/** Reads a body to its end or its break: the text and bytes received, and whether the read broke. */
async function drain(res: Response): Promise<{ text: string; bytes: number; broke: boolean }> {
  const reader = res.body?.getReader();
  if (!reader) throw new Error("no body");
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text, bytes, broke: false };
      bytes += value.byteLength;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    return { text, bytes, broke: true };
  }
}

describe("status faults", () => {
  it("answers an Anthropic 429 with retry-after, once", async () => {
    const sim = simulator();
    const ns = freshNs();
    await sim.arm(ns, { status: 429, retry_after_seconds: 7 });
    const limited = await sim.postJson(MESSAGES, body, anthropicHeaders(ns));
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("7");
    expect(limited.json).toEqual({
      type: "error",
      error: { type: "rate_limit_error", message: expect.any(String) },
      request_id: expect.stringMatching(/^req_/),
    });
    expect((await sim.post(MESSAGES, body, anthropicHeaders(ns))).status).toBe(200);
  });

  it("answers 529 overloaded_error and OpenAI 500 server_error in each provider's shape", async () => {
    const sim = simulator();
    const ns = freshNs();
    await sim.arm(ns, { faults: [{ status: 529 }, { status: 500 }] });
    const overloaded = await sim.postJson(MESSAGES, body, anthropicHeaders(ns));
    expect(overloaded.status).toBe(529);
    expect(overloaded.json.error).toEqual({ type: "overloaded_error", message: "Overloaded" });
    const server = await sim.postJson(CHAT, chat, { authorization: `Bearer ${ns}` });
    expect(server.status).toBe(500);
    expect(server.json).toEqual({
      error: { message: expect.any(String), type: "server_error", param: null, code: null },
    });
  });

  it("applies to the next `count` requests of the given provider only", async () => {
    const sim = simulator();
    const ns = freshNs();
    await sim.arm(ns, { provider: "openai", status: 503, count: 2 });
    expect((await sim.post(MESSAGES, body, anthropicHeaders(ns))).status).toBe(200);
    const h = { authorization: `Bearer ${ns}` };
    expect((await sim.post(CHAT, chat, h)).status).toBe(503);
    expect((await sim.getJson(`/__sim/faults?ns=${ns}`)).faults).toEqual([
      { count: 1, provider: "openai", status: 503 },
    ]);
    expect((await sim.post(CHAT, chat, h)).status).toBe(503);
    expect((await sim.post(CHAT, chat, h)).status).toBe(200);
    const { requests } = await sim.getJson(`/__sim/requests?ns=${ns}`);
    expect(requests.map((r: { status: number }) => r.status)).toEqual([200, 503, 503, 200]);
    expect(requests[1].fault).toMatchObject({ status: 503 });
  });
});

describe("timing and stream faults", () => {
  it("delays the response headers", async () => {
    const sim = simulator();
    const ns = freshNs();
    await sim.arm(ns, { delay_ms: 150 });
    const started = Date.now();
    const res = await sim.post(MESSAGES, body, anthropicHeaders(ns));
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it("truncates a stream after K events by closing it", async () => {
    const sim = simulator();
    const ns = freshNs();
    await sim.arm(ns, { truncate_after_events: 3 });
    const res = await sim.post(MESSAGES, { ...body, stream: true }, anthropicHeaders(ns));
    expect(res.status).toBe(200);
    const events = await sseEvents(res);
    expect(events.map((e) => e.event)).toEqual(["message_start", "content_block_start", "ping"]);
  });

  it("resets a stream after K events by erroring it", async () => {
    const sim = simulator();
    const ns = freshNs();
    await sim.arm(ns, { reset_after_events: 2 });
    const res = await sim.post(MESSAGES, { ...body, stream: true }, anthropicHeaders(ns));
    const got = await drain(res);
    expect(got.broke).toBe(true);
    expect(got.text.match(/^event: /gm)).toHaveLength(2);
  });

  it("cuts a non-streaming body in half", async () => {
    const sim = simulator();
    const ns = freshNs();
    await sim.arm(ns, { truncate_after_events: 1 });
    const res = await sim.post(CHAT, chat, { authorization: `Bearer ${ns}` });
    expect(res.status).toBe(200);
    const textBody = await res.text();
    expect(() => JSON.parse(textBody)).toThrow();
    expect(textBody.startsWith('{"id":"chatcmpl-')).toBe(true);
  });

  it("resets a non-streaming body before its first byte with a count of 0 (the status went out)", async () => {
    const sim = simulator();
    const ns = freshNs();
    await sim.arm(ns, { reset_after_events: 0 });
    const res = await sim.post(CHAT, chat, { authorization: `Bearer ${ns}` });
    expect(res.status).toBe(200);
    const got = await drain(res);
    expect(got.broke).toBe(true);
    expect(got.bytes).toBe(0);
  });
});

describe("fault control", () => {
  it("validates, lists and clears faults", async () => {
    const sim = simulator();
    const ns = freshNs();
    expect((await sim.arm(ns, { status: 200 })).status).toBe(400);
    expect((await sim.arm(ns, { count: 2 })).status).toBe(400);
    expect((await sim.arm(ns, { truncate_after_events: 1, reset_after_events: 1 })).status).toBe(400);
    const armed = await (await sim.arm(ns, { status: 429, count: 3 })).json();
    expect(armed).toEqual({ ns, faults: [{ count: 3, status: 429 }] });
    await sim.app.request(`/__sim/faults?ns=${ns}`, { method: "DELETE" });
    expect((await sim.getJson(`/__sim/faults?ns=${ns}`)).faults).toEqual([]);
  });
});

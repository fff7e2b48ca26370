import { describe, expect, it } from "vitest";
import { MAX_THREAD_STATES, Threads } from "../../sim/anthropic/threads.ts";
import { freshNs, type Json, simulator, text } from "../support/sim.ts";
import { anthropicHeaders, usageOf } from "../support/sim-anthropic.ts";

// Threads (beta message-threads-2026-08-12), shapes and error codes from @anthropic-ai/sdk 1.14:
// thread {type: "create"} | {type: "continue", previous_message_id}; thread_not_found (404),
// thread_already_continued (400, "each response can be continued only once"), thread_fingerprint_mismatch,
// thread_unsupported_request (cache_control, thinking, ...); a continue sends only the new turn.
const MODEL = "claude-sonnet-4-5";
const SYSTEM = text(2000, "sys");

function setup() {
  const sim = simulator();
  const h = { ...anthropicHeaders(freshNs()), "anthropic-beta": "message-threads-2026-08-12" };
  const post = (body: Json) =>
    sim.postJson("/anthropic/v1/messages", { model: MODEL, max_tokens: 20, ...body }, h);
  return { post };
}

const create = { system: SYSTEM, thread: { type: "create" }, messages: [{ role: "user", content: "First" }] };
const cont = (id: string, content = "Next") => ({
  thread: { type: "continue", previous_message_id: id },
  messages: [{ role: "user", content }],
});

describe("Anthropic Threads", () => {
  it("continues a thread from the new turn alone, and reads the conversation the server holds", async () => {
    const { post } = setup();
    const first = await post(create);
    expect(first.status).toBe(200);
    const second = await post(cont(first.json.id));
    expect(second.status).toBe(200);
    const u = usageOf(second.json);
    // The held prompt (system, first turn, its reply) is read; the reply mentions the second user turn.
    expect(u.read).toBeGreaterThan(2000);
    expect(second.json.content[0].text).toContain("turn 2");
    const third = await post(cont(second.json.id, "Third"));
    expect(usageOf(third.json).read).toBeGreaterThan(u.read);
  });

  it("continues each response once: thread_already_continued", async () => {
    const { post } = setup();
    const first = await post(create);
    expect((await post(cont(first.json.id))).status).toBe(200);
    const again = await post(cont(first.json.id, "Fork"));
    expect(again.status).toBe(400);
    expect(again.json.error).toMatchObject({
      type: "invalid_request_error",
      details: { error_code: "thread_already_continued" },
    });
  });

  it("keeps at most MAX_THREAD_STATES per namespace, forgetting the oldest (then unknown: thread_not_found)", () => {
    const threads = new Threads();
    const state = { model: MODEL, system: SYSTEM, tools: null, messages: [], continued: false };
    for (let i = 0; i <= MAX_THREAD_STATES; i++) threads.set(`msg_${i}`, state);
    expect(threads.size).toBe(MAX_THREAD_STATES);
    expect(threads.get("msg_0")).toBeUndefined();
    expect(threads.get("msg_1")).toBe(state);
    expect(threads.get(`msg_${MAX_THREAD_STATES}`)).toBe(state);
  });

  it("answers thread_not_found (404) for an unknown previous_message_id", async () => {
    const { post } = setup();
    const res = await post(cont("msg_01unknown"));
    expect(res.status).toBe(404);
    expect(res.json.error).toMatchObject({
      type: "not_found_error",
      details: { error_code: "thread_not_found" },
    });
  });

  it("refuses cache_control and thinking on a thread, and a continue that changes system or model", async () => {
    const { post } = setup();
    const marked = await post({ ...create, cache_control: { type: "ephemeral" } });
    expect(marked.status).toBe(400);
    expect(marked.json.error.details).toEqual({
      error_code: "thread_unsupported_request",
      unsupported: ["cache_control"],
    });
    const first = await post(create);
    const other = await post({ ...cont(first.json.id), system: "Another system" });
    expect(other.json.error.details).toEqual({ error_code: "thread_fingerprint_mismatch" });
    const model = await post({ ...cont(first.json.id), model: "claude-opus-4-8" });
    expect(model.json.error.details).toEqual({ error_code: "thread_fingerprint_mismatch" });
    // Neither failed continue used the response up.
    expect((await post(cont(first.json.id))).status).toBe(200);
  });
});

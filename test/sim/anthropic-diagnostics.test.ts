import { describe, expect, it } from "vitest";
import { freshNs, type Json, simulator, sseEvents, text } from "../support/sim.ts";
import { anthropicHeaders } from "../support/sim-anthropic.ts";

// Cache diagnostics, shapes from @anthropic-ai/sdk 1.14: request `diagnostics: {previous_message_id}`;
// response `diagnostics: {cache_miss_reason: {type, cache_missed_input_tokens}} | null`.
const MODEL = "claude-sonnet-4-5";
const SYSTEM = [{ type: "text", text: text(2000, "sys"), cache_control: { type: "ephemeral" } }];
const TOOLS = [{ name: "look", description: "d", input_schema: { type: "object" } }];

function setup() {
  const sim = simulator();
  const h = anthropicHeaders(freshNs());
  const post = (body: Json) =>
    sim.postJson("/anthropic/v1/messages", { model: MODEL, max_tokens: 10, system: SYSTEM, ...body }, h);
  return { sim, h, post };
}

const first = { messages: [{ role: "user", content: "One" }], diagnostics: { previous_message_id: null } };
const next = (previous: string, extra: Json = {}) => ({
  messages: [
    { role: "user", content: "One" },
    { role: "assistant", content: "Ok" },
    { role: "user", content: "Two" },
  ],
  diagnostics: { previous_message_id: previous },
  ...extra,
});

describe("Anthropic cache diagnostics", () => {
  it("answers null without diagnostics, when opting in with no previous message, and without divergence", async () => {
    const { post } = setup();
    expect((await post({ messages: first.messages })).json.diagnostics).toBeNull();
    const a = await post(first);
    expect(a.json.diagnostics).toBeNull();
    expect((await post(next(a.json.id))).json.diagnostics).toBeNull();
  });

  it("keeps no fingerprint of a request without diagnostics: the next one cannot be compared", async () => {
    const { post } = setup();
    const a = await post({ messages: first.messages });
    expect((await post(next(a.json.id))).json.diagnostics).toEqual({
      cache_miss_reason: { type: "previous_message_not_found" },
    });
  });

  it.each([
    ["system_changed", { system: [{ type: "text", text: "Another system prompt" }] }],
    ["tools_changed", { tools: TOOLS }],
    ["model_changed", { model: "claude-opus-4-8" }],
  ])("names %s with the tokens it cost", async (type, change) => {
    const { post } = setup();
    const a = await post(first);
    const b = await post(next(a.json.id, change));
    expect(b.json.diagnostics).toEqual({ cache_miss_reason: { type, cache_missed_input_tokens: 2000 } });
  });

  it("names messages_changed when an earlier message differs, and unavailable for other parameters", async () => {
    const { post } = setup();
    const a = await post({ ...first, messages: [{ role: "user", content: "One, edited later" }] });
    const b = await post(next(a.json.id));
    // The system is still read: nothing was missed.
    expect(b.json.diagnostics).toEqual({
      cache_miss_reason: { type: "messages_changed", cache_missed_input_tokens: 0 },
    });
    const c = await post(first);
    const d = await post(next(c.json.id, { tool_choice: { type: "none" } }));
    expect(d.json.diagnostics).toEqual({ cache_miss_reason: { type: "unavailable" } });
  });

  it("names previous_message_not_found, and carries diagnostics in message_start when streaming", async () => {
    const { sim, h } = setup();
    const res = await sim.post(
      "/anthropic/v1/messages",
      { model: MODEL, max_tokens: 10, stream: true, ...next("msg_01unknown") },
      h,
    );
    const start = JSON.parse((await sseEvents(res))[0]?.data ?? "{}");
    expect(start.message.diagnostics).toEqual({ cache_miss_reason: { type: "previous_message_not_found" } });
  });
});

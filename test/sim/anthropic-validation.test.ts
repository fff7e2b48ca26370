import { describe, expect, it } from "vitest";
import { freshNs, simulator } from "../support/sim.ts";
import { anthropicHeaders } from "../support/sim-anthropic.ts";

const MODEL = "claude-sonnet-4-5";
const mark = (ttl?: string) => ({ type: "ephemeral", ...(ttl ? { ttl } : {}) });

async function error(body: unknown) {
  const sim = simulator();
  const res = await sim.post("/anthropic/v1/messages", body, anthropicHeaders(freshNs()));
  const json = (await res.json()) as {
    type: string;
    error: { type: string; message: string };
    request_id: string;
  };
  expect(res.status).toBe(400);
  expect(json.type).toBe("error");
  expect(json.error.type).toBe("invalid_request_error");
  expect(json.request_id).toMatch(/^req_/);
  expect(res.headers.get("request-id")).toBe(json.request_id);
  return json.error.message;
}

describe("Anthropic request validation", () => {
  it("rejects more than 4 breakpoints", async () => {
    const content = [1, 2, 3, 4, 5].map((i) => ({ type: "text", text: `b${i}`, cache_control: mark() }));
    expect(await error({ model: MODEL, max_tokens: 5, messages: [{ role: "user", content }] })).toBe(
      "A maximum of 4 blocks with cache_control may be provided. Found 5.",
    );
  });

  it("rejects a 1h breakpoint after a 5m one, across tools -> system -> messages", async () => {
    const message = await error({
      model: MODEL,
      max_tokens: 5,
      tools: [{ name: "t", input_schema: { type: "object" }, cache_control: mark("5m") }],
      system: [{ type: "text", text: "sys", cache_control: mark("1h") }],
      messages: [{ role: "user", content: "hi" }],
    });
    expect(message).toBe(
      "system.0.cache_control.ttl: a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block. Note that blocks are processed in the following order: `tools`, `system`, `messages`.",
    );
  });

  it("accepts 1h before 5m", async () => {
    const sim = simulator();
    const res = await sim.post(
      "/anthropic/v1/messages",
      {
        model: MODEL,
        max_tokens: 5,
        system: [{ type: "text", text: "sys", cache_control: mark("1h") }],
        messages: [{ role: "user", content: [{ type: "text", text: "hi", cache_control: mark("5m") }] }],
      },
      anthropicHeaders(freshNs()),
    );
    expect(res.status).toBe(200);
  });

  it("rejects cache_control on a thinking block and on an empty text block", async () => {
    const thinking = { type: "thinking", thinking: "hmm", signature: "sig", cache_control: mark() };
    expect(
      await error({
        model: MODEL,
        max_tokens: 5,
        messages: [
          { role: "user", content: "q" },
          { role: "assistant", content: [thinking, { type: "text", text: "a" }] },
          { role: "user", content: "q2" },
        ],
      }),
    ).toBe("messages.1.content.0.thinking.cache_control: Extra inputs are not permitted");
    expect(
      await error({
        model: MODEL,
        max_tokens: 5,
        messages: [{ role: "user", content: [{ type: "text", text: "", cache_control: mark() }] }],
      }),
    ).toBe("messages.0.content.0.text: cache_control cannot be set for empty text blocks");
  });

  it("rejects an unknown TTL", async () => {
    expect(
      await error({
        model: MODEL,
        max_tokens: 5,
        messages: [{ role: "user", content: [{ type: "text", text: "x", cache_control: mark("10m") }] }],
      }),
    ).toBe("messages.0.content.0.cache_control.ttl: Input should be '5m' or '1h'");
  });

  it("requires model, messages and max_tokens", async () => {
    const messages = [{ role: "user", content: "hi" }];
    expect(await error({ max_tokens: 5, messages })).toBe("model: Field required");
    expect(await error({ model: MODEL, messages })).toBe("max_tokens: Field required");
    expect(await error({ model: MODEL, max_tokens: 5 })).toBe("messages: Field required");
    expect(await error({ model: MODEL, max_tokens: -1, messages })).toBe(
      "max_tokens: Input should be greater than or equal to 0",
    );
    expect(await error("{not json")).toBe("The request body is not valid JSON.");
  });

  it("rejects max_tokens: 0 with streaming, thinking or a forced tool", async () => {
    const base = { model: MODEL, max_tokens: 0, messages: [{ role: "user", content: "hi" }] };
    expect(await error({ ...base, stream: true })).toMatch(/stream/);
    expect(await error({ ...base, thinking: { type: "enabled", budget_tokens: 1024 } })).toMatch(/thinking/);
    expect(
      await error({
        ...base,
        tools: [{ name: "t", input_schema: { type: "object" } }],
        tool_choice: { type: "tool", name: "t" },
      }),
    ).toMatch(/tool_choice/);
  });
});

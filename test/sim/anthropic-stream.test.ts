import { describe, expect, it } from "vitest";
import { freshNs, type Json, simulator, sseEvents, text, tokensOf } from "../support/sim.ts";
import { anthropicHeaders, cachedSystem } from "../support/sim-anthropic.ts";

const MODEL = "claude-sonnet-4-5";

describe("Anthropic streaming", () => {
  it("sends the real event sequence with usage in message_start and message_delta", async () => {
    const sim = simulator();
    const h = anthropicHeaders(freshNs());
    const body = {
      model: MODEL,
      max_tokens: 200,
      stream: true,
      system: cachedSystem(text(2000, "sys")),
      messages: [{ role: "user", content: "Tell me a story" }],
    };
    await sim.post("/anthropic/v1/messages", { ...body, stream: false }, h);
    const res = await sim.post("/anthropic/v1/messages", body, h);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = await sseEvents(res);
    const names = events.map((e) => e.event);
    expect(names[0]).toBe("message_start");
    expect(names.slice(1, 3)).toEqual(["content_block_start", "ping"]);
    expect(names.slice(-3)).toEqual(["content_block_stop", "message_delta", "message_stop"]);
    const deltas = events.filter((e) => e.event === "content_block_delta");
    expect(deltas.length).toBeGreaterThan(1);
    for (const e of events) expect(JSON.parse(e.data).type).toBe(e.event);

    const start: Json = JSON.parse(events[0]?.data ?? "{}");
    expect(start.message.usage).toEqual({
      input_tokens: 4,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 2000,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      output_tokens: 1,
      service_tier: "standard",
    });
    const fullText = deltas.map((e) => JSON.parse(e.data).delta.text).join("");
    const delta: Json = JSON.parse(events.at(-2)?.data ?? "{}");
    expect(delta.delta).toEqual({ stop_reason: "end_turn", stop_sequence: null });
    expect(delta.usage).toEqual({
      input_tokens: 4,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 2000,
      output_tokens: tokensOf(fullText),
    });
  });

  it("streams a thinking block with a signature before the text", async () => {
    const sim = simulator();
    const res = await sim.post(
      "/anthropic/v1/messages",
      {
        model: MODEL,
        max_tokens: 2000,
        stream: true,
        thinking: { type: "enabled", budget_tokens: 1024 },
        messages: [{ role: "user", content: "Think first" }],
      },
      anthropicHeaders(freshNs()),
    );
    const data = (await sseEvents(res)).map((e) => JSON.parse(e.data) as Json);
    const starts = data.filter((d) => d.type === "content_block_start");
    expect(starts.map((s) => s.content_block.type)).toEqual(["thinking", "text"]);
    const deltaTypes = data
      .filter((d) => d.type === "content_block_delta" && d.index === 0)
      .map((d) => d.delta.type);
    expect(deltaTypes.at(-1)).toBe("signature_delta");
    expect(deltaTypes).toContain("thinking_delta");
  });

  it("streams a forced tool call as input_json_delta", async () => {
    const sim = simulator();
    const res = await sim.post(
      "/anthropic/v1/messages",
      {
        model: MODEL,
        max_tokens: 100,
        stream: true,
        tools: [{ name: "get_weather", input_schema: { type: "object" } }],
        tool_choice: { type: "tool", name: "get_weather" },
        messages: [{ role: "user", content: "Weather?" }],
      },
      anthropicHeaders(freshNs()),
    );
    const data = (await sseEvents(res)).map((e) => JSON.parse(e.data) as Json);
    const start = data.find((d) => d.type === "content_block_start");
    expect(start.content_block).toMatchObject({ type: "tool_use", name: "get_weather", input: {} });
    const json = data
      .filter((d) => d.type === "content_block_delta")
      .map((d) => {
        expect(d.delta.type).toBe("input_json_delta");
        return d.delta.partial_json;
      })
      .join("");
    expect(JSON.parse(json)).toEqual({});
    expect(data.find((d) => d.type === "message_delta").delta.stop_reason).toBe("tool_use");
  });
});

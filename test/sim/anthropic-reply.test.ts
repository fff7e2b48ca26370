import { describe, expect, it } from "vitest";
import { freshNs, simulator, text, tokensOf } from "../support/sim.ts";
import { anthropicHeaders } from "../support/sim-anthropic.ts";

const MODEL = "claude-sonnet-4-5";

describe("Anthropic replies", () => {
  it("answers with deterministic text naming the turn and the last user message", async () => {
    const sim = simulator();
    const res = await sim.postJson(
      "/anthropic/v1/messages",
      {
        model: MODEL,
        max_tokens: 100,
        messages: [
          { role: "user", content: "first" },
          { role: "assistant", content: "ok" },
          { role: "user", content: "second question" },
        ],
      },
      anthropicHeaders(freshNs()),
    );
    expect(res.json).toMatchObject({
      type: "message",
      role: "assistant",
      model: MODEL,
      stop_reason: "end_turn",
    });
    expect(res.json.id).toMatch(/^msg_01/);
    const reply: string = res.json.content[0].text;
    expect(reply).toBe('Simulated reply for turn 2 to "second question".');
    expect(res.json.usage.output_tokens).toBe(tokensOf(reply));
    expect(res.json.usage.input_tokens).toBe(2 + 1 + 4);
  });

  it("caps output at max_tokens", async () => {
    const sim = simulator();
    const res = await sim.postJson(
      "/anthropic/v1/messages",
      { model: MODEL, max_tokens: 3, messages: [{ role: "user", content: "hello" }] },
      anthropicHeaders(freshNs()),
    );
    expect(res.json.stop_reason).toBe("max_tokens");
    expect(res.json.usage.output_tokens).toBe(3);
    expect(res.json.content[0].text).toHaveLength(12);
  });

  it("answers a forced tool_choice with a tool_use block", async () => {
    const sim = simulator();
    const res = await sim.postJson(
      "/anthropic/v1/messages",
      {
        model: MODEL,
        max_tokens: 100,
        tools: [{ name: "search", input_schema: { type: "object" } }],
        tool_choice: { type: "any" },
        messages: [{ role: "user", content: "find it" }],
      },
      anthropicHeaders(freshNs()),
    );
    expect(res.json.stop_reason).toBe("tool_use");
    expect(res.json.content).toEqual([
      { type: "tool_use", id: expect.stringMatching(/^toolu_01/), name: "search", input: {} },
    ]);
    expect(res.json.usage.output_tokens).toBe(1);
  });

  it("puts a signed thinking block first when thinking is adaptive", async () => {
    const sim = simulator();
    const res = await sim.postJson(
      "/anthropic/v1/messages",
      {
        model: MODEL,
        max_tokens: 500,
        thinking: { type: "adaptive" },
        messages: [{ role: "user", content: "why" }],
      },
      anthropicHeaders(freshNs()),
    );
    const [thinking, answer] = res.json.content;
    expect(thinking.type).toBe("thinking");
    expect(thinking.signature.length).toBeGreaterThan(10);
    expect(answer.type).toBe("text");
    expect(res.json.usage.output_tokens).toBe(tokensOf(thinking.thinking) + tokensOf(answer.text));
  });

  it("counts tokens with the same approximation", async () => {
    const sim = simulator();
    const tool = { name: "t", description: "d", input_schema: { type: "object" } };
    const res = await sim.postJson(
      "/anthropic/v1/messages/count_tokens",
      {
        model: MODEL,
        tools: [tool],
        system: text(100),
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: text(50) },
              { type: "image", source: {} },
            ],
          },
        ],
      },
      anthropicHeaders(freshNs()),
    );
    expect(res.json).toEqual({ input_tokens: tokensOf(JSON.stringify(tool)) + 100 + 50 + 1600 });
  });
});

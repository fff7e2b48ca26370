import { describe, expect, it } from "vitest";
import { freshNs, simulator, text, tokensOf } from "../support/sim.ts";
import { anthropicHeaders, usageOf } from "../support/sim-anthropic.ts";

const MODEL = "claude-sonnet-4-6";
const AUTO = { type: "ephemeral" };

describe("automatic caching (top-level cache_control)", () => {
  it("puts the breakpoint on the last block and moves it forward as the conversation grows", async () => {
    const sim = simulator();
    const h = anthropicHeaders(freshNs());
    const system = text(1500, "sys");
    const q1 = text(20, "q1");
    const first = await sim.postJson(
      "/anthropic/v1/messages",
      {
        model: MODEL,
        max_tokens: 100,
        cache_control: AUTO,
        system,
        messages: [{ role: "user", content: q1 }],
      },
      h,
    );
    expect(usageOf(first.json)).toEqual({ input: 0, read: 0, write: 1520, w5m: 1520, w1h: 0 });
    const answer: string = first.json.content[0].text;
    const q2 = text(30, "q2");
    const second = await sim.postJson(
      "/anthropic/v1/messages",
      {
        model: MODEL,
        max_tokens: 100,
        cache_control: AUTO,
        system,
        messages: [
          { role: "user", content: q1 },
          { role: "assistant", content: answer },
          { role: "user", content: q2 },
        ],
      },
      h,
    );
    expect(usageOf(second.json)).toEqual({
      input: 0,
      read: 1520,
      write: tokensOf(answer) + 30,
      w5m: tokensOf(answer) + 30,
      w1h: 0,
    });
  });

  it("honours a 1h TTL at the top level", async () => {
    const sim = simulator();
    const res = await sim.postJson(
      "/anthropic/v1/messages",
      {
        model: MODEL,
        max_tokens: 10,
        cache_control: { type: "ephemeral", ttl: "1h" },
        messages: [{ role: "user", content: text(1200) }],
      },
      anthropicHeaders(freshNs()),
    );
    expect(usageOf(res.json)).toEqual({ input: 0, read: 0, write: 1200, w5m: 0, w1h: 1200 });
  });

  it("uses one of the four slots", async () => {
    const sim = simulator();
    const marked = (i: number) => ({
      type: "text",
      text: `block ${i}`,
      cache_control: { type: "ephemeral" },
    });
    const res = await sim.postJson(
      "/anthropic/v1/messages",
      {
        model: MODEL,
        max_tokens: 10,
        cache_control: AUTO,
        messages: [
          {
            role: "user",
            content: [marked(1), marked(2), marked(3), marked(4), { type: "text", text: "tail" }],
          },
        ],
      },
      anthropicHeaders(freshNs()),
    );
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe("A maximum of 4 blocks with cache_control may be provided. Found 5.");
  });
});

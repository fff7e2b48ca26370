import { describe, expect, it } from "vitest";
import { freshNs, simulator, text } from "../support/sim.ts";
import { anthropicHeaders, cachedSystem, usageOf } from "../support/sim-anthropic.ts";

describe("max_tokens: 0 pre-warm", () => {
  it("writes the cache, returns no content and bills no output", async () => {
    const sim = simulator();
    const ns = freshNs();
    const h = anthropicHeaders(ns);
    const system = cachedSystem(text(3000, "doc"));
    const warm = await sim.postJson(
      "/anthropic/v1/messages",
      { model: "claude-opus-4-8", max_tokens: 0, system, messages: [{ role: "user", content: "warm" }] },
      h,
    );
    expect(warm.status).toBe(200);
    expect(warm.json.content).toEqual([]);
    expect(warm.json.stop_reason).toBe("max_tokens");
    expect(warm.json.usage.output_tokens).toBe(0);
    expect(usageOf(warm.json)).toEqual({ input: 1, read: 0, write: 3000, w5m: 3000, w1h: 0 });
    const real = await sim.postJson(
      "/anthropic/v1/messages",
      {
        model: "claude-opus-4-8",
        max_tokens: 100,
        system,
        messages: [{ role: "user", content: "question" }],
      },
      h,
    );
    expect(usageOf(real.json)).toEqual({ input: 2, read: 3000, write: 0, w5m: 0, w1h: 0 });
    const stats = await sim.getJson(`/__sim/stats?ns=${ns}`);
    expect(stats.anthropic.output_tokens).toBe(real.json.usage.output_tokens);
  });
});

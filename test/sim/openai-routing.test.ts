import { describe, expect, it } from "vitest";
import type { SimulatorOptions } from "../../sim/app.ts";
import { freshNs, simulator, text } from "./helpers.ts";

const PROMPT = text(2048, "routing");

/** Sends `n` identical 2048-token prompts, `gap` seconds apart; returns cached_tokens of each. */
async function run(n: number, gap: number, key?: string, ns = freshNs(), options?: SimulatorOptions) {
  const sim = simulator(options);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const body = {
      model: "gpt-4o",
      messages: [{ role: "user", content: PROMPT }],
      ...(key ? { prompt_cache_key: key } : {}),
    };
    const res = await sim.postJson("/openai/v1/chat/completions", body, { authorization: `Bearer ${ns}` });
    out.push(res.json.usage.prompt_tokens_details.cached_tokens);
    await sim.advance(ns, gap);
  }
  return out;
}

describe("OpenAI cache routing", () => {
  it("sticks to one machine with a prompt_cache_key under the rate limit", async () => {
    expect(await run(10, 5, "session-1")).toEqual([0, ...Array(9).fill(2048)]);
  });

  it("spreads a keyless head over several machines, deterministically", async () => {
    const a = await run(12, 5, undefined, "fixed-ns");
    const b = await run(12, 5, undefined, "fixed-ns");
    expect(a).toEqual(b);
    const later = a.slice(1);
    expect(later).toContain(0);
    expect(later).toContain(2048);
    const otherSeed = await run(12, 5, undefined, "fixed-ns", { seed: "another" });
    expect(otherSeed).not.toEqual(a);
  });

  it("overflows a key past ~15 requests per minute", async () => {
    const cached = await run(20, 1, "hot-key");
    expect(cached.slice(1, 15)).toEqual(Array(14).fill(2048));
    expect(cached[15]).toBe(0);
  });

  it("is fully sticky with openaiSpread: 1", async () => {
    expect(await run(6, 5, undefined, freshNs(), { openaiSpread: 1 })).toEqual([0, ...Array(5).fill(2048)]);
  });
});

import { describe, expect, it } from "vitest";
import type { SimulatorOptions } from "../../sim/app.ts";
import { freshNs, simulator, text } from "../support/sim.ts";

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

  // developers.openai.com/api/docs/guides/prompt-caching, "Cache Routing": routing is a hash of the first
  // ~256 tokens (combined with prompt_cache_key when given), so keyless repeats land on one machine too.
  it("sends keyless repeats of a prompt to one machine under the rate limit", async () => {
    expect(await run(10, 5)).toEqual([0, ...Array(9).fill(2048)]);
  });

  it("overflows a keyless prefix past ~15 requests per minute, deterministically", async () => {
    const a = await run(20, 1, undefined, "fixed-ns");
    expect(a.slice(1, 15)).toEqual(Array(14).fill(2048));
    expect(a[15]).toBe(0);
    const b = await run(20, 1, undefined, "fixed-ns");
    expect(b).toEqual(a);
  });

  it("routes one head with different keys by key: each key starts cold", async () => {
    const ns = freshNs();
    await run(1, 0, undefined, ns);
    const keyed: number[] = [];
    for (const key of ["k-a", "k-b", "k-c", "k-d"]) keyed.push(...(await run(1, 0, key, ns)));
    // A key moves the route to another home machine (1 in 16 keys shares the keyless home by chance).
    expect(keyed.filter((c) => c === 0).length).toBeGreaterThanOrEqual(3);
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

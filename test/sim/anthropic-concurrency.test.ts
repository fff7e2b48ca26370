import { describe, expect, it } from "vitest";
import {
  applyPromptCache,
  commitPromptCache,
  type PrefixChain,
  PromptCache,
  planPromptCache,
} from "../../sim/anthropic/cache.ts";
import { freshNs, simulator, text } from "../support/sim.ts";
import { anthropicHeaders, cachedSystem, usageOf } from "../support/sim-anthropic.ts";

// "For concurrent requests, note that a cache entry only becomes available after the first response
// begins. If you need cache hits for parallel requests, wait for the first response before sending
// subsequent requests." (platform.claude.com/docs/en/build-with-claude/prompt-caching)
const MODEL = "claude-sonnet-4-5";
const SYSTEM = text(2000, "shared");

function body(question: string, stream = false) {
  return {
    model: MODEL,
    max_tokens: 10,
    stream,
    system: cachedSystem(SYSTEM),
    messages: [{ role: "user", content: question }],
  };
}

describe("Anthropic entries appear when the first response starts", () => {
  it("lets concurrent first requests with one prefix all write", async () => {
    const sim = simulator({ firstTokenMs: 30 });
    const h = anthropicHeaders(freshNs());
    const answers = await Promise.all(
      ["a", "b", "c"].map((q) => sim.postJson("/anthropic/v1/messages", body(q), h)),
    );
    for (const a of answers) expect(usageOf(a.json)).toMatchObject({ read: 0, write: 2000 });
    const after = await sim.postJson("/anthropic/v1/messages", body("d"), h);
    expect(usageOf(after.json)).toMatchObject({ read: 2000, write: 0 });
  });

  it("lets a request that waits for the first response start read it", async () => {
    const sim = simulator({ firstTokenMs: 30 });
    const h = anthropicHeaders(freshNs());
    const first = await sim.post("/anthropic/v1/messages", body("a", true), h);
    // The headers have arrived: the response has started, so the entry exists before the body is read.
    const second = await sim.postJson("/anthropic/v1/messages", body("b"), h);
    expect(usageOf(second.json)).toMatchObject({ read: 2000, write: 0 });
    await first.text();
  });

  it("shows no in-flight entry in GET /__sim/cache", async () => {
    const sim = simulator({ firstTokenMs: 50 });
    const ns = freshNs();
    const pending = sim.postJson("/anthropic/v1/messages", body("a"), anthropicHeaders(ns));
    await new Promise((r) => setTimeout(r, 10));
    expect((await sim.getJson(`/__sim/cache?ns=${ns}`)).anthropic).toEqual([]);
    await pending;
    expect((await sim.getJson(`/__sim/cache?ns=${ns}`)).anthropic).toHaveLength(1);
  });
});

describe("planPromptCache / commitPromptCache (pure, for replays)", () => {
  const chain: PrefixChain = { hashes: ["h0", "h1"], cumulative: [1500, 1600] };
  const ttl = { "5m": 300_000, "1h": 3_600_000 };
  const bps = [{ position: 0, ttl: "5m" as const }];

  it("plans a write without making it visible until commit", () => {
    const cache = new PromptCache();
    const a = planPromptCache(cache, chain, bps, 1024, 0, ttl);
    const b = planPromptCache(cache, chain, bps, 1024, 10, ttl);
    expect(a.outcome).toEqual({ read: 0, write5m: 1500, write1h: 0, uncached: 100 });
    expect(b.outcome).toEqual(a.outcome);
    commitPromptCache(cache, a.writes, 100, ttl);
    commitPromptCache(cache, b.writes, 120, ttl);
    expect(cache.list(200)).toMatchObject([{ hash: "h0", written_at_ms: 100, expires_at_ms: 300_120 }]);
    expect(planPromptCache(cache, chain, bps, 1024, 200, ttl).outcome.read).toBe(1500);
  });

  it("keeps applyPromptCache as plan then commit at the lookup time", () => {
    const cache = new PromptCache();
    expect(applyPromptCache(cache, chain, bps, 1024, 0, ttl)).toEqual({
      read: 0,
      write5m: 1500,
      write1h: 0,
      uncached: 100,
    });
    expect(applyPromptCache(cache, chain, bps, 1024, 1, ttl).read).toBe(1500);
  });
});

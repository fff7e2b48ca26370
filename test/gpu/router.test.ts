import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/errors.ts";
import { parseGpuPools } from "../../src/core/gpu-config.ts";
import { CHUNK_CHARS, chunkHashes, chunkRoot } from "../../src/gpu/chunks.ts";
import { PoolState } from "../../src/gpu/pool-state.ts";
import { PrefixIndex } from "../../src/gpu/prefix-index.ts";
import { type BackendView, chooseBackend, loadBound } from "../../src/gpu/router.ts";

const view = (over: Partial<BackendView> = {}): BackendView => ({
  weight: 1,
  inflight: 0,
  healthy: true,
  excluded: false,
  match: 0,
  ...over,
});

const keys = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe("chooseBackend (pure)", () => {
  it("sends a request to the backend with the longest match", () => {
    const c = chooseBackend([view({ match: 2 }), view({ match: 7 }), view({ match: 0 })], 0.5);
    expect(c).toMatchObject({ backend: 1, reason: "prefix", match: 7, bestMatch: 7 });
  });

  it("never puts a backend above ceil((1 + ε) · mean) in-flight, spilling to the next best", () => {
    // 9 in flight + this one = 10 over 3 backends: mean 3.33, bound ceil(1.25 · 3.33) = 5.
    const views = [view({ inflight: 5, match: 9 }), view({ inflight: 2, match: 4 }), view({ inflight: 2 })];
    expect(loadBound(views, [0, 1, 2], 0, 0.25)).toBe(5);
    const c = chooseBackend(views, 0.25);
    expect(c).toMatchObject({ backend: 1, reason: "spill", match: 4, bestMatch: 9 });
  });

  it("sends a request that matches nowhere to the least loaded backend", () => {
    const c = chooseBackend([view({ inflight: 3 }), view({ inflight: 1 }), view({ inflight: 2 })], 0.5);
    expect(c).toMatchObject({ backend: 1, reason: "least-loaded" });
  });

  it("weighs the queue against the prefill a match saves", () => {
    const views = [
      view({ match: 4, waitMs: 5000, prefillMs: 100 }),
      view({ match: 0, waitMs: 0, prefillMs: 500 }),
    ];
    expect(chooseBackend(views, 1)).toMatchObject({ backend: 1, reason: "queue", bestMatch: 4 });
    const shortQueue = [
      view({ match: 4, waitMs: 200, prefillMs: 100 }),
      view({ match: 0, waitMs: 0, prefillMs: 500 }),
    ];
    expect(chooseBackend(shortQueue, 1)).toMatchObject({ backend: 0, reason: "prefix" });
  });

  it("skips unhealthy and excluded backends, and uses an unhealthy one only when nothing else is left", () => {
    const views = [view({ match: 9, healthy: false }), view({ match: 1, excluded: true }), view()];
    expect(chooseBackend(views, 0.5)?.backend).toBe(2);
    const allDown = [view({ healthy: false }), view({ excluded: true })];
    expect(chooseBackend(allDown, 0.5)).toMatchObject({ backend: 0, reason: "unhealthy" });
    expect(chooseBackend([view({ excluded: true })], 0.5)).toBeNull();
  });

  it("gives a heavier backend a proportionally higher bound", () => {
    const views = [view({ weight: 3, inflight: 5 }), view({ weight: 1, inflight: 1 })];
    // 7 with this one; shares 3/4 and 1/4: bounds ceil(1.1 · 7 · 0.75) = 6 and ceil(1.1 · 7 · 0.25) = 2.
    expect(loadBound(views, [0, 1], 0, 0.1)).toBe(6);
    expect(loadBound(views, [0, 1], 1, 0.1)).toBe(2);
  });
});

describe("PrefixIndex (pure)", () => {
  it("matches leading keys only, per backend", () => {
    const index = new PrefixIndex<string>([100, 100], 60_000);
    index.insert(0, keys("a", 5), 0);
    index.insert(1, ["a0", "a1", "x2"], 0);
    expect(index.match(keys("a", 8), 1)).toEqual([5, 2]);
  });

  it("evicts the least recently used keys, a prompt's tail before its head", () => {
    const index = new PrefixIndex<string>([6], 60_000);
    index.insert(0, keys("a", 4), 0);
    index.insert(0, keys("b", 4), 1);
    // 8 keys in a capacity of 6: a2 and a3 (the older prompt's tail) went first.
    expect(index.match(keys("a", 4), 2)).toEqual([2]);
    expect(index.match(keys("b", 4), 2)).toEqual([4]);
  });

  it("ignores entries past the TTL, and forgets on request", () => {
    const index = new PrefixIndex<string>([100], 1000);
    index.insert(0, keys("a", 3), 0);
    expect(index.match(keys("a", 3), 999)).toEqual([3]);
    expect(index.match(keys("a", 3), 1001)).toEqual([0]);
    index.insert(0, keys("b", 3), 2000);
    index.forget(0, ["b1"]);
    expect(index.match(keys("b", 3), 2001)).toEqual([1]);
  });
});

describe("PoolState (pure)", () => {
  const pool = () =>
    new PoolState({
      backends: [
        { weight: 1, indexChunks: 1000 },
        { weight: 1, indexChunks: 1000 },
      ],
      epsilon: 0.5,
      indexTtlMs: 600_000,
      prefillTokensPerS: 10_000,
      chunkTokens: 256,
    });

  it("routes a prefix back where it went, and counts in-flight requests until they finish", () => {
    const p = pool();
    const a = p.route({ chunks: keys("a", 10), tokens: 2600 }, 0);
    expect(a?.reason).toBe("least-loaded");
    p.finish(a?.lease as number, { ok: true, promptTokens: 2600, cachedTokens: 0 }, 10);
    const b = p.route({ chunks: keys("a", 12), tokens: 3100 }, 20);
    expect(b).toMatchObject({ backend: a?.backend, reason: "prefix", match: 10, inflight: 1 });
    expect(p.inflight(a?.backend as number)).toBe(1);
    p.finish(b?.lease as number, { ok: true }, 30);
    expect(p.inflight(a?.backend as number)).toBe(0);
  });

  it("skips a failed backend for a cooldown that doubles, and forgets what the failed request was to put there", () => {
    const p = pool();
    const a = p.route({ chunks: keys("a", 4), tokens: 1024 }, 0);
    const failed = a?.backend as number;
    p.finish(a?.lease as number, { ok: false, failed: true }, 0);
    expect(p.index.match(keys("a", 4), 1)[failed]).toBe(0);
    expect(p.snapshot(500)[failed]).toMatchObject({ healthy: false, failures: 1, downUntil: 1000 });
    const b = p.route({ chunks: keys("a", 4), tokens: 1024 }, 500);
    expect(b?.backend).not.toBe(failed);
    const c = p.route({ chunks: keys("c", 4), tokens: 1024, exclude: [1 - failed] }, 1500);
    expect(c?.backend).toBe(failed); // the cooldown is over: tried again
    p.finish(c?.lease as number, { ok: false, failed: true }, 1500);
    expect(p.snapshot(1500)[failed]?.downUntil).toBe(3500);
  });
});

describe("chunk keys (pure)", () => {
  it("are chained over full 1,024-character chunks, so a longer prompt extends a shorter one's keys", () => {
    const root = chunkRoot("salt-a", "chat.completions", "llama", "");
    const text = "x".repeat(CHUNK_CHARS * 3 + 100);
    const short = chunkHashes(root, text.slice(0, CHUNK_CHARS * 2 + 5));
    const long = chunkHashes(root, `${text}tail`);
    expect(short).toHaveLength(2);
    expect(long).toHaveLength(3);
    expect(long.slice(0, 2)).toEqual(short);
    expect(new Set(long).size).toBe(3);
  });

  it("differ across tenants, models and client salts", () => {
    const text = "y".repeat(CHUNK_CHARS);
    const k = (salt: string, model: string, client: string) =>
      chunkHashes(chunkRoot(salt, "completions", model, client), text)[0];
    const base = k("t1", "m", "");
    expect(k("t1", "m", "")).toBe(base);
    expect(k("t2", "m", "")).not.toBe(base);
    expect(k("t1", "m2", "")).not.toBe(base);
    expect(k("t1", "m", "user-7")).not.toBe(base);
  });
});

describe("GPU_POOLS", () => {
  it("parses pools with defaults and normalizes backend URLs", () => {
    const pools = parseGpuPools(
      JSON.stringify({
        main: { backends: [{ url: "http://10.0.0.5:8000/v1/", key: "k" }, { url: "https://g/x" }] },
      }),
    );
    const main = pools.get("main");
    expect(main?.backends[0]).toEqual({
      url: "http://10.0.0.5:8000",
      key: "k",
      weight: 1,
      cacheSalt: true,
      kvCacheTokens: undefined,
    });
    expect(main?.backends[1]?.url).toBe("https://g/x");
    expect(main).toMatchObject({ epsilon: 1, keepalive: false, usdPerGpuHour: 0 });
    expect(parseGpuPools(undefined).size).toBe(0);
  });

  it.each([
    ["not json", "{"],
    ["an array", "[]"],
    ["a bad name", JSON.stringify({ "a b": { backends: [{ url: "http://x" }] } })],
    ["no backends", JSON.stringify({ p: { backends: [] } })],
    ["a bad URL", JSON.stringify({ p: { backends: [{ url: "ftp://x" }] } })],
    ["an unknown field", JSON.stringify({ p: { backends: [{ url: "http://x", wieght: 2 }] } })],
    ["a negative epsilon", JSON.stringify({ p: { backends: [{ url: "http://x" }], epsilon: -1 } })],
  ])("rejects %s", (_what, value) => {
    expect(() => parseGpuPools(value)).toThrow(ConfigError);
  });
});

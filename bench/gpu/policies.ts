import { createHash } from "node:crypto";
import { PoolState } from "../../src/gpu/pool-state.ts";
import { PrefixIndex } from "../../src/gpu/prefix-index.ts";
import { mulberry32 } from "../economics/synthetic.ts";
import { type BenchRequest, ROUTE_CHUNK_TOKENS } from "./trace.ts";

/** A routing policy under replay: it picks a backend per request and hears when each request ended. */
export interface Router {
  name: string;
  route(r: BenchRequest, nowMs: number, inflight: readonly number[]): number;
  done(r: BenchRequest, backend: number, cachedTokens: number, nowMs: number): void;
}

export interface PoolShape {
  backends: number;
  /** KV cache per backend, in tokens: the cache-aware routers' index holds as much. */
  kvTokens: number;
}

const ignore = () => {};

function leastLoaded(inflight: readonly number[], start = 0): number {
  let best = start % inflight.length;
  for (let k = 1; k < inflight.length; k++) {
    const i = (start + k) % inflight.length;
    if ((inflight[i] as number) < (inflight[best] as number)) best = i;
  }
  return best;
}

export function random(shape: PoolShape, seed = 1): Router {
  const next = mulberry32(seed);
  return { name: "random", route: () => Math.floor(next() * shape.backends), done: ignore };
}

export function roundRobin(shape: PoolShape): Router {
  let i = 0;
  return { name: "round-robin", route: () => i++ % shape.backends, done: ignore };
}

export function leastLoadedRouter(): Router {
  let rr = 0;
  // Ties rotate, or every idle moment would send the next request to backend 0.
  return {
    name: "least-loaded (in-flight)",
    route: (_r, _t, inflight) => leastLoaded(inflight, rr++),
    done: ignore,
  };
}

function hash32(s: string): number {
  const d = createHash("sha256").update(s).digest();
  return (
    ((d[0] as number) * 2 ** 24 + ((d[1] as number) << 16) + ((d[2] as number) << 8) + (d[3] as number)) >>> 0
  );
}

/**
 * Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam 2018) on the prompt's first 1,024
 * tokens (four routing chunks; the trace's first block is one system prompt shared by every request, so a
 * shorter key would send everything to one place): 100 virtual nodes per backend; the key walks the ring
 * to the first backend under ceil((1 + ε) · mean) in-flight requests.
 */
export function consistentHashBounded(shape: PoolShape, epsilon: number): Router {
  const ring: { at: number; b: number }[] = [];
  for (let b = 0; b < shape.backends; b++)
    for (let v = 0; v < 100; v++) ring.push({ at: hash32(`backend-${b}-${v}`), b });
  ring.sort((x, y) => x.at - y.at);
  return {
    name: `consistent hashing, bounded load (ε=${epsilon})`,
    route(r, _t, inflight) {
      const key = r.chunks[Math.min(3, r.chunks.length - 1)] ?? -r.index;
      const h = hash32(String(key));
      let lo = 0;
      let hi = ring.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((ring[mid] as { at: number }).at < h) lo = mid + 1;
        else hi = mid;
      }
      const total = inflight.reduce((a, x) => a + x, 0) + 1;
      const cap = Math.ceil(((1 + epsilon) * total) / shape.backends);
      for (let k = 0; k < ring.length; k++) {
        const b = (ring[(lo + k) % ring.length] as { b: number }).b;
        if ((inflight[b] as number) + 1 <= cap) return b;
      }
      return leastLoaded(inflight);
    },
    done: ignore,
  };
}

/**
 * SGLang's cache-aware router (sgl-router `cache_aware`, documented defaults cache_threshold 0.5,
 * balance_abs_threshold 32, balance_rel_threshold 1.0001): when the in-flight loads are imbalanced (max − min
 * above 32 and max above 1.0001 · min) the least loaded backend; otherwise the backend with the longest
 * prefix match in its approximate tree when the match covers more than half of the prompt, else the backend
 * with the smallest tree. Its tree is this replay's chunk index with the same capacity as Stoker's (kinder
 * than SGLang's default 2^24-character tree, which believes backends hold what they evicted long ago).
 */
export function sglangCacheAware(
  shape: PoolShape,
  opts = { cacheThreshold: 0.5, balanceAbs: 32, balanceRel: 1.0001 },
): Router {
  const capacity = shape.kvTokens / ROUTE_CHUNK_TOKENS;
  const tree = new PrefixIndex<number>(
    Array.from({ length: shape.backends }, () => capacity),
    Number.POSITIVE_INFINITY,
  );
  return {
    name: "SGLang-style cache-aware",
    route(r, t, inflight) {
      const max = Math.max(...inflight);
      const min = Math.min(...inflight);
      let b: number;
      if (max - min > opts.balanceAbs && max > min * opts.balanceRel) b = leastLoaded(inflight);
      else {
        const matches = tree.match(r.chunks, t);
        let best = 0;
        for (let i = 1; i < matches.length; i++)
          if ((matches[i] as number) > (matches[best] as number)) best = i;
        const rate = r.chunks.length > 0 ? (matches[best] as number) / r.chunks.length : 0;
        if (rate > opts.cacheThreshold) b = best;
        else {
          b = 0;
          for (let i = 1; i < shape.backends; i++) if (tree.size(i) < tree.size(b)) b = i;
        }
      }
      tree.insert(b, r.chunks, t);
      return b;
    },
    done: ignore,
  };
}

/** Stoker's router: the PoolState class the GpuPool Durable Object runs, on the replay's clock. */
export function stoker(
  shape: PoolShape,
  epsilon: number,
  opts: { label?: string; prefillTokensPerS: number; matchOnly?: boolean; affinity?: number },
): Router {
  const pool = new PoolState<number>({
    backends: Array.from({ length: shape.backends }, () => ({
      weight: 1,
      indexChunks: shape.kvTokens / ROUTE_CHUNK_TOKENS,
    })),
    epsilon,
    indexTtlMs: Number.POSITIVE_INFINITY,
    prefillTokensPerS: opts.prefillTokensPerS,
    chunkTokens: ROUTE_CHUNK_TOKENS,
    matchOnly: opts.matchOnly ?? false,
    ...(opts.affinity === undefined ? {} : { affinity: opts.affinity }),
  });
  const label = opts.label ?? "Stoker";
  const leases = new Map<number, number>();
  return {
    name: label,
    route(r, t) {
      const d = pool.route(
        { chunks: r.chunks, tokens: r.promptTokens, rotation: r.chunks.at(-1) ?? r.index },
        t,
      );
      if (!d) throw new Error("no backend");
      leases.set(r.index, d.lease);
      return d.backend;
    },
    done(r, _b, cachedTokens, t) {
      const lease = leases.get(r.index);
      leases.delete(r.index);
      if (lease !== undefined)
        pool.finish(lease, { ok: true, promptTokens: r.promptTokens, cachedTokens }, t);
    },
  };
}

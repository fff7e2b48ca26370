import { PrefixIndex } from "./prefix-index.ts";
import { type BackendView, chooseBackend, type RouteReason } from "./router.ts";

/**
 * Everything a pool's router knows, in memory: the prefix index, in-flight requests (as leases), health,
 * and the rate at which each backend fills its cache. The `GpuPool` Durable Object holds one; the routing
 * benchmark drives the very same class on a virtual clock. Pure: time is always an argument.
 */

export interface PoolBackendSpec {
  weight: number;
  /** Chunk keys the index keeps for this backend (about its KV cache size in chunks). */
  indexChunks: number;
}

export interface PoolSpec {
  backends: readonly PoolBackendSpec[];
  epsilon: number;
  indexTtlMs: number;
  /** Prefill throughput of one backend (tokens per second): turns uncached tokens into queue time. */
  prefillTokensPerS: number;
  /** Tokens per chunk key (src/gpu/chunks.ts: about 256). */
  chunkTokens: number;
  /** Route on the longest match within the load bound only, without queue estimates (the benchmark's ablation). */
  matchOnly?: boolean;
  /** How many times its own prefill a match is worth (default AFFINITY). */
  affinity?: number;
}

export interface RouteRequest<K> {
  chunks: readonly K[];
  /** Estimated prompt tokens (at least the chunks' worth). */
  tokens: number;
  /** Backends already tried for this request. */
  exclude?: readonly number[];
  /** Breaks ties between equal choices (e.g. derived from the first chunk). */
  rotation?: number;
}

export interface RouteDecision {
  backend: number;
  lease: number;
  reason: RouteReason;
  match: number;
  bestMatch: number;
  /** In-flight requests of the chosen backend, this one included. */
  inflight: number;
  /** Mean in-flight over the pool, this one included. */
  mean: number;
}

export interface FinishReport {
  /** The backend answered (any status below 500 other than 429 counts as an answer). */
  ok: boolean;
  /** The backend is to blame (unreachable, timeout, 5xx, 429): it is skipped for a while. */
  failed?: boolean;
  promptTokens?: number;
  cachedTokens?: number;
}

export interface BackendSnapshot {
  inflight: number;
  healthy: boolean;
  failures: number;
  downUntil: number;
  indexed: number;
  requests: number;
  /** Estimated prefill queue, in ms. */
  queueMs: number;
  /** Uncached prompt tokens per second sent to it, decayed over RATE_HALF_LIFE_MS. */
  fillRate: number;
}

interface Lease<K> {
  backend: number;
  chunks: readonly K[];
  /** Chunks the backend was believed to hold before this request. */
  match: number;
  at: number;
}

interface Health {
  failures: number;
  downUntil: number;
}

/**
 * A cached prefix is worth this many times the prefill it saves now when weighed against a queue: keeping a
 * conversation on the backend that holds it also saves the prefill of its next turns, and a conversation
 * spread over two backends fills both caches. Larger values raise the hit rate and, on the Mooncake trace,
 * the mean TTFT a little (bench/report/gpu.md shows the grid).
 */
// Fitted by `npm run bench:gpu:fit` (bench/gpu/fit.ts) together with the default ε: lowest mean TTFT on the
// first half of the Mooncake trace.
export const AFFINITY = 3;
/** A lease not finished after this long is dropped (its worker died): it must not hold load forever. */
export const LEASE_MAX_MS = 15 * 60_000;
/** First cooldown of a failing backend; doubles per consecutive failure up to COOLDOWN_MAX_MS. */
export const COOLDOWN_MS = 1_000;
export const COOLDOWN_MAX_MS = 60_000;
/** Half-life of the fill-rate estimate. */
export const RATE_HALF_LIFE_MS = 5 * 60_000;

export class PoolState<K = string> {
  readonly spec: PoolSpec;
  readonly index: PrefixIndex<K>;
  readonly #inflight: number[];
  readonly #health: Health[];
  readonly #requests: number[];
  readonly #fill: { tokens: number; at: number }[];
  /** Estimated prefill work queued at each backend, in ms, as of `at`. */
  readonly #backlog: { ms: number; at: number }[];
  readonly #leases = new Map<number, Lease<K>>();
  #nextLease = 1;
  #oldestCheck = 0;

  constructor(spec: PoolSpec) {
    this.spec = spec;
    this.index = new PrefixIndex<K>(
      spec.backends.map((b) => b.indexChunks),
      spec.indexTtlMs,
    );
    this.#inflight = spec.backends.map(() => 0);
    this.#health = spec.backends.map(() => ({ failures: 0, downUntil: 0 }));
    this.#requests = spec.backends.map(() => 0);
    this.#fill = spec.backends.map(() => ({ tokens: 0, at: 0 }));
    this.#backlog = spec.backends.map(() => ({ ms: 0, at: 0 }));
  }

  /** Chooses a backend, counts the request in flight there, and records the prefix as held there. */
  route(req: RouteRequest<K>, nowMs: number): RouteDecision | null {
    this.#expireLeases(nowMs);
    const matches = this.index.match(req.chunks, nowMs);
    const exclude = new Set(req.exclude ?? []);
    const views: BackendView[] = this.spec.backends.map((b, i) => ({
      weight: b.weight,
      inflight: this.#inflight[i] as number,
      healthy: (this.#health[i] as Health).downUntil <= nowMs,
      excluded: exclude.has(i),
      match: matches[i] as number,
      ...(this.spec.matchOnly
        ? {}
        : { waitMs: this.#wait(i, nowMs), prefillMs: this.#prefillMs(req.tokens, matches[i] as number) }),
    }));
    const choice = chooseBackend(views, this.spec.epsilon, req.rotation ?? 0);
    if (!choice) return null;
    const b = choice.backend;
    this.#inflight[b] = (this.#inflight[b] as number) + 1;
    this.#requests[b] = (this.#requests[b] as number) + 1;
    const q = this.#backlog[b] as { ms: number; at: number };
    const work = Math.max(0, req.tokens - choice.match * this.spec.chunkTokens);
    q.ms = this.#wait(b, nowMs) + (work / this.spec.prefillTokensPerS) * 1000;
    q.at = nowMs;
    // Recorded now, not when the answer comes: a burst of one prefix must follow the first request.
    this.index.insert(b, req.chunks, nowMs);
    const lease = this.#nextLease++;
    this.#leases.set(lease, { backend: b, chunks: req.chunks, match: choice.match, at: nowMs });
    const total = this.#inflight.reduce((a, x) => a + x, 0);
    return {
      backend: b,
      lease,
      reason: choice.reason,
      match: choice.match,
      bestMatch: choice.bestMatch,
      inflight: this.#inflight[b] as number,
      mean: total / this.#inflight.length,
    };
  }

  /** Ends a lease: releases its load, updates health, and undoes its index entries if it never ran. */
  finish(lease: number, report: FinishReport, nowMs: number): boolean {
    const l = this.#leases.get(lease);
    if (!l) return false;
    this.#leases.delete(lease);
    this.#inflight[l.backend] = Math.max(0, (this.#inflight[l.backend] as number) - 1);
    const h = this.#health[l.backend] as Health;
    if (report.failed) {
      h.failures++;
      h.downUntil = nowMs + Math.min(COOLDOWN_MAX_MS, COOLDOWN_MS * 2 ** (h.failures - 1));
    } else if (report.ok) {
      h.failures = 0;
      h.downUntil = 0;
    }
    if (!report.ok) this.index.forget(l.backend, l.chunks.slice(l.match));
    if (report.ok && report.promptTokens !== undefined) {
      const uncached = Math.max(0, report.promptTokens - (report.cachedTokens ?? 0));
      const f = this.#fill[l.backend] as { tokens: number; at: number };
      f.tokens = decayed(f, nowMs) + uncached;
      f.at = nowMs;
    }
    return true;
  }

  /** A keepalive touch read `chunks` on backend b: the index refreshes them as the backend does. */
  touch(b: number, chunks: readonly K[], nowMs: number): void {
    this.index.insert(b, chunks, nowMs);
  }

  /** Whether backend b is believed to hold `chunks` (all of them) now. */
  holds(b: number, chunks: readonly K[], nowMs: number): boolean {
    return (this.index.match(chunks, nowMs)[b] ?? 0) >= chunks.length;
  }

  /** Uncached tokens per second sent to backend b lately: how fast its cache turns over. */
  fillRate(b: number, nowMs: number): number {
    const f = this.#fill[b];
    if (!f) return 0;
    // A decayed sum over an exponential window of mean length τ = half-life / ln 2 is a rate times τ.
    const tauS = RATE_HALF_LIFE_MS / Math.LN2 / 1000;
    return decayed(f, nowMs) / tauS;
  }

  /** Estimated time until backend b finishes the prefill work routed to it so far. */
  #wait(b: number, nowMs: number): number {
    const q = this.#backlog[b] as { ms: number; at: number };
    return Math.max(0, q.ms - Math.max(0, nowMs - q.at));
  }

  #prefillMs(tokens: number, match: number): number {
    const held = match * this.spec.chunkTokens * (this.spec.affinity ?? AFFINITY);
    return ((tokens - held) / this.spec.prefillTokensPerS) * 1000;
  }

  inflight(b: number): number {
    return this.#inflight[b] ?? 0;
  }

  snapshot(nowMs: number): BackendSnapshot[] {
    return this.spec.backends.map((_, i) => {
      const h = this.#health[i] as Health;
      return {
        inflight: this.#inflight[i] as number,
        healthy: h.downUntil <= nowMs,
        failures: h.failures,
        downUntil: h.downUntil,
        indexed: this.index.size(i),
        requests: this.#requests[i] as number,
        queueMs: this.#wait(i, nowMs),
        fillRate: this.fillRate(i, nowMs),
      };
    });
  }

  #expireLeases(nowMs: number): void {
    if (nowMs - this.#oldestCheck < 1000) return;
    this.#oldestCheck = nowMs;
    for (const [id, l] of this.#leases) {
      if (nowMs - l.at < LEASE_MAX_MS) break; // leases are in creation order
      this.#leases.delete(id);
      this.#inflight[l.backend] = Math.max(0, (this.#inflight[l.backend] as number) - 1);
    }
  }
}

function decayed(f: { tokens: number; at: number }, nowMs: number): number {
  return f.tokens * 2 ** (-Math.max(0, nowMs - f.at) / RATE_HALF_LIFE_MS);
}

/** Anthropic cache TTLs. */
export type Ttl = "5m" | "1h";

/** What the simulated provider holds for one prefix. */
export interface CacheEntry {
  /** Prefix chain hash up to and including the block at `position`. */
  hash: string;
  /** Block index of the breakpoint that wrote it. */
  position: number;
  /** Prefix tokens. */
  tokens: number;
  ttl: Ttl;
  written_at_ms: number;
  expires_at_ms: number;
  hits: number;
}

/** A breakpoint of one request: its block position and TTL. */
export interface Breakpoint {
  position: number;
  ttl: Ttl;
}

/** The request's prefix: chain hash and cumulative tokens through each block. */
export interface PrefixChain {
  hashes: string[];
  cumulative: number[];
}

/** How the request's input tokens were billed. */
export interface CacheOutcome {
  read: number;
  write5m: number;
  write1h: number;
  uncached: number;
}

/** How far before a breakpoint a read looks for an earlier entry (block positions). */
export const LOOKBACK_BLOCKS = 20;

/** Entries of one namespace, keyed by prefix hash. */
export class PromptCache {
  #entries = new Map<string, CacheEntry>();

  /** The live entry of a prefix, if any (expired ones are dropped on the way). */
  get(hash: string, now: number): CacheEntry | undefined {
    const e = this.#entries.get(hash);
    if (e && e.expires_at_ms <= now) {
      this.#entries.delete(hash);
      return undefined;
    }
    return e;
  }

  set(entry: CacheEntry): void {
    this.#entries.set(entry.hash, entry);
  }

  /** Live entries, by position. */
  list(now: number): CacheEntry[] {
    for (const [h, e] of this.#entries) if (e.expires_at_ms <= now) this.#entries.delete(h);
    return [...this.#entries.values()].sort((a, b) => a.position - b.position);
  }

  clear(): void {
    this.#entries.clear();
  }
}

/** What one request reads now and will write once its response starts. */
export interface CachePlan {
  outcome: CacheOutcome;
  /** Entries the request writes, stamped as if written at the lookup time. */
  writes: CacheEntry[];
}

/**
 * The read half of a request (README "Anthropic caching"): each breakpoint looks at its own position and up to
 * LOOKBACK_BLOCKS positions before it for a live entry; the longest hit is the read, and every hit restarts
 * its TTL (so this mutates hits, as the real read does). Writes are only planned: each breakpoint after the
 * read whose prefix reaches `minTokens` writes an entry, the span since the previous write billed at that
 * breakpoint's TTL. Nothing is written: `commitPromptCache` does that when the response starts, because "for
 * concurrent requests, note that a cache entry only becomes available after the first response begins"
 * (platform.claude.com/docs/en/build-with-claude/prompt-caching).
 */
export function planPromptCache(
  cache: PromptCache,
  chain: PrefixChain,
  breakpoints: Breakpoint[],
  minTokens: number,
  now: number,
  ttlMs: Record<Ttl, number>,
): CachePlan {
  const total = chain.cumulative.at(-1) ?? 0;
  const tokensThrough = (pos: number) => (pos < 0 ? 0 : (chain.cumulative[pos] ?? 0));
  let readPos = -1;
  for (const bp of breakpoints) {
    for (let q = bp.position; q >= Math.max(0, bp.position - LOOKBACK_BLOCKS); q--) {
      const entry = cache.get(chain.hashes[q] ?? "", now);
      if (!entry) continue;
      entry.hits++;
      entry.expires_at_ms = now + ttlMs[entry.ttl];
      readPos = Math.max(readPos, q);
      break;
    }
  }
  const outcome: CacheOutcome = { read: tokensThrough(readPos), write5m: 0, write1h: 0, uncached: 0 };
  const writes: CacheEntry[] = [];
  let start = outcome.read;
  for (const bp of breakpoints) {
    const tokens = tokensThrough(bp.position);
    if (bp.position <= readPos || tokens < minTokens) continue;
    if (bp.ttl === "1h") outcome.write1h += tokens - start;
    else outcome.write5m += tokens - start;
    start = tokens;
    writes.push({
      hash: chain.hashes[bp.position] ?? "",
      position: bp.position,
      tokens,
      ttl: bp.ttl,
      written_at_ms: now,
      expires_at_ms: now + ttlMs[bp.ttl],
      hits: 0,
    });
  }
  outcome.uncached = total - start;
  return { outcome, writes };
}

/**
 * Makes a plan's writes visible (the moment its response starts). With `now` and `ttlMs`, each entry is
 * stamped at that moment; without them, at the plan's lookup time. A live entry of the same prefix (a
 * concurrent request that started first) keeps its hits and the later of the two expiries.
 */
export function commitPromptCache(
  cache: PromptCache,
  writes: readonly CacheEntry[],
  now?: number,
  ttlMs?: Record<Ttl, number>,
): void {
  for (const w of writes) {
    const at = now ?? w.written_at_ms;
    const expires = now !== undefined && ttlMs ? now + ttlMs[w.ttl] : w.expires_at_ms;
    const live = cache.get(w.hash, at);
    if (live) {
      live.expires_at_ms = Math.max(live.expires_at_ms, expires);
      continue;
    }
    cache.set({ ...w, written_at_ms: at, expires_at_ms: expires });
  }
}

/**
 * Reads and writes the cache for one request at once (`planPromptCache` then `commitPromptCache`): the
 * sequential case, where each request's response has started before the next request arrives.
 */
export function applyPromptCache(
  cache: PromptCache,
  chain: PrefixChain,
  breakpoints: Breakpoint[],
  minTokens: number,
  now: number,
  ttlMs: Record<Ttl, number>,
): CacheOutcome {
  const plan = planPromptCache(cache, chain, breakpoints, minTokens, now, ttlMs);
  commitPromptCache(cache, plan.writes);
  return plan.outcome;
}

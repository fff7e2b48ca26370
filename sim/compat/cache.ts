import { CHUNK_TOKENS, type OpenAIPrompt, type PromptBoundary } from "../openai/prompt.ts";

const SWEEP_AT = 200_000;
const MINUTE = 60_000;

/** What one request read from and wrote to a compat provider's cache. */
export interface CompatServed {
  cachedTokens: number;
  /** Tokens billed as a cache write (OpenRouter's Anthropic models); 0 where writes are free. */
  writeTokens: number;
}

function sweep(store: Map<string, number>, now: number): void {
  if (store.size > SWEEP_AT) for (const [h, t] of store) if (t <= now) store.delete(h);
}

/**
 * DeepSeek's disk cache (api-docs.deepseek.com/guides/kv_cache): a request persists "cache prefix units" at the
 * end of the user input and at the end of the model output; a later request hits only a unit it fully
 * matches. Read less favourably where the page is loose: the units of earlier requests' boundaries only (not
 * the "common prefix detection" nor the "fixed token intervals" units), counted in whole 64-token storage
 * units with nothing under 64 cached (older versions of the page), and an unused unit gone after 1 hour (the
 * page: "usually within a few hours to a few days").
 */
export class DeepSeekCache {
  static readonly UNIT = 64;
  static readonly TTL_MS = 60 * MINUTE;
  #units = new Map<string, number>();

  /** Reads the longest unit the prompt fully matches, then persists the prompt's end (user input). */
  serve(prompt: OpenAIPrompt, now: number): CompatServed {
    let cached = 0;
    const ends = prompt.boundaries ?? [];
    for (let i = ends.length - 1; i >= 0; i--) {
      const b = ends[i] as PromptBoundary;
      if ((this.#units.get(b.hash) ?? 0) <= now) continue;
      this.#units.set(b.hash, now + DeepSeekCache.TTL_MS);
      cached = Math.floor(b.tokens / DeepSeekCache.UNIT) * DeepSeekCache.UNIT;
      break;
    }
    sweep(this.#units, now);
    const end = ends.at(-1);
    if (end && end.tokens >= DeepSeekCache.UNIT) this.#units.set(end.hash, now + DeepSeekCache.TTL_MS);
    return { cachedTokens: cached, writeTokens: 0 };
  }

  /** Persists the unit through the model's answer (the prompt with the reply appended as a message). */
  persistAnswer(withReply: OpenAIPrompt, now: number): void {
    const end = withReply.boundaries?.at(-1);
    if (end && end.tokens >= DeepSeekCache.UNIT) this.#units.set(end.hash, now + DeepSeekCache.TTL_MS);
  }

  clear(): void {
    this.#units.clear();
  }
}

/**
 * An automatic prefix cache in whole chunks (xAI, Moonshot, OpenRouter's non-Anthropic models): the longest run
 * of leading chunks seen on the same server within the TTL is cached; a server is picked by the routing key
 * when the request has one (xAI's `x-grok-conv-id`), otherwise at random (seeded), since a provider without a
 * routing hint may land a request on any server ("Best Practices": docs.x.ai prompt caching).
 */
export class ChunkCache {
  #servers: Map<string, number>[];
  #random: () => number;
  readonly chunkTokens: number;
  readonly minTokens: number;
  readonly ttlMs: number;

  constructor(
    o: { chunkTokens: number; minTokens: number; ttlMs: number; servers: number },
    random: () => number,
  ) {
    this.chunkTokens = o.chunkTokens;
    this.minTokens = o.minTokens;
    this.ttlMs = o.ttlMs;
    this.#servers = Array.from({ length: o.servers }, () => new Map<string, number>());
    this.#random = random;
  }

  serve(prompt: OpenAIPrompt, routeKey: number | undefined, now: number): CompatServed {
    // `chunkHashes[k]` covers tokens [0, 128 (k + 1)): keep those that end on this cache's chunk size.
    const chunkHashes = prompt.chunkHashes.filter(
      (_h, k) => ((k + 1) * CHUNK_TOKENS) % this.chunkTokens === 0,
    );
    const n = this.#servers.length;
    const at = routeKey === undefined ? Math.floor(this.#random() * n) : routeKey % n;
    const store = this.#servers[at] as Map<string, number>;
    let matched = 0;
    for (const h of chunkHashes) {
      if ((store.get(h) ?? 0) <= now) break;
      matched++;
    }
    sweep(store, now);
    const expires = now + this.ttlMs;
    if (prompt.tokens >= this.minTokens) for (const h of chunkHashes) store.set(h, expires);
    const cached = matched * this.chunkTokens;
    return { cachedTokens: cached >= this.minTokens ? Math.min(cached, prompt.tokens) : 0, writeTokens: 0 };
  }

  clear(): void {
    for (const s of this.#servers) s.clear();
  }
}

/**
 * Anthropic models behind OpenRouter: cached only at `cache_control` markers (openrouter.ai prompt caching
 * guide). A request reads the longest marked boundary an earlier request wrote at a marker (no 20-block
 * lookback: the less favourable reading for a proxy that may not pass Anthropic's lookback through), then
 * writes each of its last 4 markers past the read whose prefix reaches the model's minimum; the tokens from the
 * read to the last written marker are the write (billed 1.25x). An entry lives 5 minutes after its last use,
 * or 1 hour with `ttl: "1h"`.
 */
export class MarkerCache {
  #entries = new Map<string, number>();

  serve(prompt: OpenAIPrompt, ttl1h: ReadonlySet<number>, minTokens: number, now: number): CompatServed {
    const marks = (prompt.boundaries ?? []).filter((b) => b.explicit);
    let read = 0;
    for (let i = marks.length - 1; i >= 0; i--) {
      const b = marks[i] as PromptBoundary;
      const until = this.#entries.get(b.hash) ?? 0;
      if (b.tokens < minTokens || until <= now) continue;
      this.#entries.set(b.hash, Math.max(until, now + (ttl1h.has(b.tokens) ? 60 : 5) * MINUTE));
      read = b.tokens;
      break;
    }
    sweep(this.#entries, now);
    let written = read;
    for (const b of marks.slice(-4)) {
      if (b.tokens <= read || b.tokens < minTokens) continue;
      this.#entries.set(b.hash, now + (ttl1h.has(b.tokens) ? 60 : 5) * MINUTE);
      written = b.tokens;
    }
    return { cachedTokens: read, writeTokens: written - read };
  }

  clear(): void {
    this.#entries.clear();
  }
}

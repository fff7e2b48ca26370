import type { JsonObject } from "../json.ts";
import type { Block, Head } from "./prompt.ts";

interface ImplicitEntry {
  tokens: number;
  expiresAt: number;
}

/** An explicit `cachedContents` resource. */
export interface CachedContent {
  name: string;
  displayName?: string;
  /** `models/<id>`. */
  model: string;
  head: Head;
  contents: JsonObject[];
  blocks: Block[];
  tokens: number;
  createTime: number;
  updateTime: number;
  expireTime: number;
  /** Storage is billed from here to the next settlement (TTL change, deletion, expiry, stats read). */
  billedFrom: number;
}

const HOUR_MS = 3_600_000;

/** A namespace's Gemini caches: the implicit prefix cache and the explicit `cachedContents`. */
export class GeminiCaches {
  readonly #implicit = new Map<string, ImplicitEntry>();
  readonly #explicit = new Map<string, CachedContent>();
  /** Token-hours of storage already settled (caches deleted, expired or re-timed). */
  #settledTokenHours = 0;

  /**
   * Implicit read: the longest live prefix, at a block boundary, of at least `minimum` tokens (0 if none).
   * Then, when the prompt reaches the minimum, every prefix of at least `minimum` tokens is held for `ttlMs`.
   */
  implicit(blocks: readonly Block[], minimum: number, now: number, ttlMs: number): number {
    let read = 0;
    for (let i = blocks.length - 1; i >= 0; i--) {
      const b = blocks[i] as Block;
      if (b.cumulative < minimum) break;
      const e = this.#implicit.get(b.hash);
      if (e && e.expiresAt > now) {
        read = b.cumulative;
        break;
      }
    }
    for (const b of blocks) {
      if (b.cumulative >= minimum)
        this.#implicit.set(b.hash, { tokens: b.cumulative, expiresAt: now + ttlMs });
    }
    if (this.#implicit.size > 50_000) {
      for (const [k, e] of this.#implicit) if (e.expiresAt <= now) this.#implicit.delete(k);
    }
    return read;
  }

  /** Stores a new explicit cache. */
  create(entry: CachedContent): void {
    this.#explicit.set(entry.name, entry);
  }

  /** A live explicit cache (expired ones are settled and dropped). */
  get(name: string, now: number): CachedContent | undefined {
    this.#sweep(now);
    return this.#explicit.get(name);
  }

  list(now: number): CachedContent[] {
    this.#sweep(now);
    return [...this.#explicit.values()];
  }

  /** Sets a new expiry (a TTL update); storage up to now is settled at the old size. */
  retime(entry: CachedContent, expireTime: number, now: number): void {
    this.#settle(entry, now);
    entry.expireTime = expireTime;
    entry.updateTime = now;
  }

  delete(name: string, now: number): boolean {
    const entry = this.get(name, now);
    if (!entry) return false;
    this.#settle(entry, now);
    this.#explicit.delete(name);
    return true;
  }

  /** Storage billed so far, in token-hours: each cache from creation until deleted or expired. */
  storageTokenHours(now: number): number {
    this.#sweep(now);
    let open = 0;
    for (const e of this.#explicit.values()) open += (e.tokens * Math.max(0, now - e.billedFrom)) / HOUR_MS;
    return this.#settledTokenHours + open;
  }

  #settle(e: CachedContent, now: number): void {
    const until = Math.min(now, e.expireTime);
    this.#settledTokenHours += (e.tokens * Math.max(0, until - e.billedFrom)) / HOUR_MS;
    e.billedFrom = until;
  }

  #sweep(now: number): void {
    for (const [name, e] of this.#explicit) {
      if (e.expireTime <= now) {
        this.#settle(e, e.expireTime);
        this.#explicit.delete(name);
      }
    }
  }
}

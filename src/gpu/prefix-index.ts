import { Lru } from "./lru.ts";

/**
 * The approximate picture of what each backend of a pool holds: per backend, the chunk keys of the prompts
 * it was sent, least recently used first, capped at about its KV cache size and ignored past a TTL. It mirrors
 * vLLM's own eviction (least recently used free blocks go first, a prompt's tail before its head), so it is
 * right whenever Stoker sees all of a backend's traffic; the TTL bounds how long it can be wrong when it does
 * not (other clients, restarts). Pure; generic over the key type so the benchmark can use numbers.
 */
export class PrefixIndex<K> {
  readonly #lru: Lru<K>[];
  readonly #capacity: number[];
  readonly #ttlMs: number;

  /** `capacities[b]`: how many chunk keys backend b keeps at most. */
  constructor(capacities: readonly number[], ttlMs: number) {
    this.#lru = capacities.map(() => new Lru<K>());
    this.#capacity = capacities.map((c) => Math.max(1, Math.floor(c)));
    this.#ttlMs = ttlMs;
  }

  get backends(): number {
    return this.#lru.length;
  }

  /** Keys held for backend b. */
  size(b: number): number {
    return this.#lru[b]?.size ?? 0;
  }

  /** Per backend: how many leading keys it holds, fresh as of `nowMs`. */
  match(keys: readonly K[], nowMs: number): number[] {
    const oldest = nowMs - this.#ttlMs;
    return this.#lru.map((lru) => {
      let n = 0;
      while (n < keys.length) {
        const at = lru.get(keys[n] as K);
        if (at === undefined || at < oldest) break;
        n++;
      }
      return n;
    });
  }

  /** Backend b now holds `keys` (as the most recently used, the first key last so it is evicted last). */
  insert(b: number, keys: readonly K[], nowMs: number): void {
    const lru = this.#lru[b];
    if (!lru) return;
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i] as K;
      lru.delete(k);
      lru.set(k, nowMs);
    }
    const capacity = this.#capacity[b] as number;
    const expired = nowMs - this.#ttlMs;
    for (let o = lru.oldest(); o && (lru.size > capacity || o.at < expired); o = lru.oldest())
      lru.delete(o.key);
  }

  /** Backend b does not hold `keys` after all (the request that was to put them there failed). */
  forget(b: number, keys: readonly K[]): void {
    const lru = this.#lru[b];
    if (lru) for (const k of keys) lru.delete(k);
  }

  /** Backend b holds nothing (it restarted, or was replaced). */
  clear(b: number): void {
    this.#lru[b]?.clear();
  }
}

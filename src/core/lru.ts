/**
 * A map bounded to `max` entries that evicts the least recently used one. A `Map` keeps insertion order, so
 * a hit is moved to the newest end by re-inserting it and the oldest entry is the first key. V8 compacts the
 * holes deletions leave when the table rehashes, so each operation stays amortized O(1).
 */
export class BoundedLru<K, V> {
  readonly #map = new Map<K, V>();
  readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The value, marking it most recently used. */
  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v === undefined) return undefined;
    this.#map.delete(key);
    this.#map.set(key, v);
    return v;
  }

  /** The value without changing its recency. */
  peek(key: K): V | undefined {
    return this.#map.get(key);
  }

  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    while (this.#map.size > this.max) {
      const oldest = this.#map.keys().next();
      if (oldest.done) break;
      this.#map.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }
}

/**
 * When each key was last seen, for the `max` most recent keys: whether a key comes back within a window (a
 * conversation's next turn through this isolate within a hold: src/edge/capture-hold.ts, src/tracker/share-hold.ts).
 */
export class LastSeen {
  readonly #times: BoundedLru<string, number>;

  constructor(max: number) {
    this.#times = new BoundedLru(max);
  }

  get size(): number {
    return this.#times.size;
  }

  /** Notes `key` at `nowMs`; whether it was last seen at most `ms` before. */
  cameBackWithin(key: string, nowMs: number, ms: number): boolean {
    const last = this.#times.peek(key);
    this.#times.set(key, nowMs);
    return last !== undefined && nowMs - last <= ms;
  }
}

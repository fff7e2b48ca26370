// A small synchronous 64-bit hash (two cyrb53-style lanes) in pure JS: the simulator runs in Node and in
// workerd, and prefix chains need one hash per block, which `crypto.subtle` would make async.

/** Incremental hasher over UTF-16 code units or bytes. */
export class Hasher {
  #a: number;
  #b: number;

  constructor(seed = "") {
    this.#a = 0xdeadbeef;
    this.#b = 0x41c6ce57;
    if (seed) this.string(seed);
  }

  /** Feeds one 16-bit unit. */
  unit(c: number): this {
    this.#a = Math.imul(this.#a ^ c, 2654435761);
    this.#b = Math.imul(this.#b ^ c, 1597334677);
    return this;
  }

  /** Feeds a string, then a terminator so that ("ab","c") and ("a","bc") differ. */
  string(s: string): this {
    for (let i = 0; i < s.length; i++) this.unit(s.charCodeAt(i));
    return this.unit(0xffff);
  }

  /** Feeds bytes[start, end). */
  bytes(b: Uint8Array, start: number, end: number): this {
    for (let i = start; i < end; i++) this.unit(b[i] ?? 0);
    return this;
  }

  /** The current digest as 16 hex characters; the hasher stays usable. */
  digest(): string {
    let h1 = this.#a;
    let h2 = this.#b;
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
    h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
    h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return (h1 >>> 0).toString(16).padStart(8, "0") + (h2 >>> 0).toString(16).padStart(8, "0");
  }
}

/** Hash of the given parts, in order. */
export function hashOf(...parts: string[]): string {
  const h = new Hasher();
  for (const p of parts) h.string(p);
  return h.digest();
}

/** A deterministic PRNG in [0, 1) (mulberry32), seeded from a string. */
export function seededRandom(seed: string): () => number {
  let s = Number.parseInt(hashOf(seed).slice(0, 8), 16) >>> 0;
  return function random() {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

import { createHash, createHmac, type Hash } from "node:crypto";

/** Chain hashes are base64url SHA-256 cut to 22 characters (132 bits): ample for one tenant's prefixes. */
const HASH_CHARS = 22;
// In workerd every update() and every encodeInto() is a call into C++ (encodeInto about 0.45 us however
// short the string, measured), and update(string) takes a slow path. Short pieces (tags, keys, length
// prefixes, most values) are written into a reusable buffer as UTF-8 by a loop here (about 2.6 ns a
// character, so up to SMALL_CHARS it beats the call), longer ones encoded into it with encodeInto, and
// the hash sees a few large updates.
const SMALL_CHARS = 128;
const BUFFER_BYTES = 65_536;
const encoder = new TextEncoder();
// One buffer for every writer (a 64 KiB Uint8Array costs ~11 us to allocate in workerd, measured): a
// writer that finds another's bytes in it first flushes them into that writer's hash, so each hash still
// sees its own bytes in order.
const shared = new Uint8Array(BUFFER_BYTES);
let holder: ChainWriter | null = null;

/** Whether `hash` is a placeholder a deferring writer gave (`ChainWriter.defer`): never a chain hash. */
export const isDeferredDigest = (hash: string): boolean => hash.charCodeAt(0) === 126; // "~", not base64url

/** Roots computed lately: a tenant's requests share a few (an HMAC costs more than the lookup). */
const roots = new Map<string, string>();
const MAX_ROOTS = 256;

/** h0: an HMAC of the tenant's secret salt over upstream, model and the parameters that change the provider's cache. */
export function chainRoot(salt: string, upstream: string, model: string, params: string): string {
  const text = `${upstream}\n${model}\n${params}`;
  const key = `${salt.length}:${salt}${text}`;
  const known = roots.get(key);
  if (known !== undefined) return known;
  const root = createHmac("sha256", salt).update(text).digest("base64url").slice(0, HASH_CHARS);
  if (roots.size >= MAX_ROOTS) roots.delete(roots.keys().next().value as string);
  roots.set(key, root);
  return root;
}

/**
 * One incremental SHA-256 over h0 and the canonical bytes of every segment, in order. The hash at a
 * position is the digest of everything fed so far, so equal chains mean equal prefixes; digests are taken
 * only where asked (each costs a few microseconds in workerd).
 */
export class ChainWriter {
  private readonly hash: Hash;
  private readonly buffer = shared;
  /** Bytes of this writer in the shared buffer (0 unless it is the holder). */
  private used = 0;
  /** Placeholder digests given since `defer()`; -1 while the writer hashes. */
  private deferred = -1;

  /** A chain from h0, or one that goes on from a snapshot (which stays as it was). */
  constructor(h0: string, from?: Hash) {
    this.hash = from ? from.copy() : createHash("sha256");
    this.claim();
    if (!from) this.put(h0);
  }

  /** The chain as it stands, to go on from later (`new ChainWriter(h0, snapshot)`). */
  snapshot(): Hash {
    if (this.deferred >= 0) throw new Error("a deferring chain has no state to go on from");
    this.flush();
    return this.hash.copy();
  }

  /** Feeds structural ASCII that needs no length prefix (single-letter tags, numbers with a terminator). */
  tag(s: string): void {
    if (this.deferred >= 0) return;
    if (holder !== this) this.claim();
    this.put(s);
  }

  /** Feeds a string, length-prefixed (`s<length>:`) so that the encoding stays injective. */
  str(s: string): void {
    if (this.deferred >= 0) return;
    if (holder !== this) this.claim();
    this.prefix(s.length);
    this.put(s);
  }

  /** The chain hash of everything fed so far. */
  digest(): string {
    if (this.deferred >= 0) return `~${this.deferred++}`;
    this.flush();
    return this.hash.copy().digest("base64url").slice(0, HASH_CHARS);
  }

  /**
   * From here on nothing is encoded or hashed, and each digest is a placeholder (`~n`, unique in this writer,
   * never a chain hash: `isDeferredDigest`), for positions no state can be known of yet (edge/prepare.ts).
   */
  defer(): void {
    if (this.deferred < 0) this.deferred = 0;
  }

  private claim(): void {
    holder?.flush();
    holder = this;
  }

  private prefix(length: number): void {
    // "s", at most 16 digits, ":".
    if (this.used + 18 > BUFFER_BYTES) this.flush();
    const buf = this.buffer;
    let u = this.used;
    buf[u++] = 115;
    if (length < 10) buf[u++] = 48 + length;
    else {
      const digits = String(length);
      for (let i = 0; i < digits.length; i++) buf[u++] = digits.charCodeAt(i);
    }
    buf[u++] = 58;
    this.used = u;
  }

  private put(s: string): void {
    const n = s.length;
    if (n >= SMALL_CHARS) {
      this.encode(s);
      return;
    }
    // At most 3 bytes per UTF-16 code unit (a surrogate pair is 4 bytes for 2).
    if (this.used + 3 * n > BUFFER_BYTES) this.flush();
    const buf = this.buffer;
    let u = this.used;
    for (let i = 0; i < n; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        buf[u++] = c;
        continue;
      }
      if (c < 0x800) {
        buf[u++] = 0xc0 | (c >> 6);
        buf[u++] = 0x80 | (c & 0x3f);
        continue;
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = c <= 0xdbff && i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (d >= 0xdc00 && d <= 0xdfff) {
          const p = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          buf[u++] = 0xf0 | (p >> 18);
          buf[u++] = 0x80 | ((p >> 12) & 0x3f);
          buf[u++] = 0x80 | ((p >> 6) & 0x3f);
          buf[u++] = 0x80 | (p & 0x3f);
          i++;
          continue;
        }
        // A lone surrogate encodes as U+FFFD, as TextEncoder does.
        c = 0xfffd;
      }
      buf[u++] = 0xe0 | (c >> 12);
      buf[u++] = 0x80 | ((c >> 6) & 0x3f);
      buf[u++] = 0x80 | (c & 0x3f);
    }
    this.used = u;
  }

  private encode(s: string): void {
    let rest = s;
    for (;;) {
      const { read, written } = encoder.encodeInto(
        rest,
        this.used === 0 ? this.buffer : this.buffer.subarray(this.used),
      );
      this.used += written;
      if (read === rest.length) return;
      this.flush();
      rest = rest.slice(read);
    }
  }

  private flush(): void {
    if (this.used > 0) {
      this.hash.update(this.buffer.subarray(0, this.used));
      this.used = 0;
    }
  }
}

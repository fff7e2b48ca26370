import { createHash, createHmac, type Hash } from "node:crypto";

/** Chain hashes are base64url SHA-256 cut to 22 characters (132 bits): ample for one tenant's prefixes. */
const HASH_CHARS = 22;
// In workerd every update() and every encodeInto() is a call into C++ costing about a microsecond, and
// update(string) takes a slow path: small pieces are joined into one string, large ones encoded into a
// reusable buffer, and the hash sees a few large updates.
const SMALL_CHARS = 1024;
const PENDING_CHARS = 16_384;
const BUFFER_BYTES = 65_536;
const encoder = new TextEncoder();

/** h0: an HMAC of the tenant's secret salt over upstream, model and the parameters that change the provider's cache. */
export function chainRoot(salt: string, upstream: string, model: string, params: string): string {
  return createHmac("sha256", salt)
    .update(`${upstream}\n${model}\n${params}`)
    .digest("base64url")
    .slice(0, HASH_CHARS);
}

/**
 * One incremental SHA-256 over h0 and the canonical bytes of every segment, in order. The hash at a
 * position is the digest of everything fed so far, so equal chains mean equal prefixes; digests are taken
 * only where asked (each costs a few microseconds in workerd).
 */
export class ChainWriter {
  private readonly hash: Hash;
  private readonly buffer = new Uint8Array(BUFFER_BYTES);
  private used = 0;
  private pending: string;

  constructor(h0: string) {
    this.hash = createHash("sha256");
    this.pending = h0;
  }

  /** Feeds structural bytes that need no length prefix (single-letter tags, numbers with a terminator). */
  tag(s: string): void {
    this.put(s);
  }

  /** Feeds a string, length-prefixed so that the encoding stays injective. */
  str(s: string): void {
    this.put(`s${s.length}:`);
    this.put(s);
  }

  /** The chain hash of everything fed so far. */
  digest(): string {
    this.drain();
    this.flush();
    return this.hash.copy().digest("base64url").slice(0, HASH_CHARS);
  }

  private put(s: string): void {
    if (s.length < SMALL_CHARS) {
      this.pending += s;
      if (this.pending.length >= PENDING_CHARS) this.drain();
      return;
    }
    this.drain();
    this.encode(s);
  }

  private drain(): void {
    if (this.pending.length > 0) {
      this.encode(this.pending);
      this.pending = "";
    }
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

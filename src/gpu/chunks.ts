import { createHash, createHmac } from "node:crypto";

/**
 * Routing keys of a GPU request: chained hashes of fixed-size chunks of its canonical prompt text.
 *
 * A chunk is CHUNK_CHARS UTF-16 code units, about 256 tokens of English or code (roughly 4 characters per
 * token), i.e. 16 of vLLM's 16-token KV blocks. Why that size: routing needs to know *which backend* holds
 * the longest prefix, not where exactly it ends, so a match is off by less than one chunk (≤ ~256 tokens,
 * a few ms of prefill) at worst; each chunk costs one SHA-256 digest at the edge, one string in the routing
 * RPC and one probe per backend in the pool's index, so a 100K-token prompt is ~400 chunks (~9 KB of keys)
 * where 16-token chunks would be 6,400 (~140 KB). No tokenizer is needed: equal text gives equal chunks,
 * whatever model serves it. Only full chunks are keys: a prompt's partial tail changes with the next turn.
 */
export const CHUNK_CHARS = 1024;
/** About how many tokens a chunk holds (for estimates only: the backend's usage is the truth). */
export const CHUNK_TOKENS = 256;
/** Prompts longer than this many chunks (2M characters) are matched on their first MAX_CHUNKS chunks. */
export const MAX_CHUNKS = 2048;

const HASH_CHARS = 22;

/**
 * The chain's root: an HMAC keyed by the tenant's secret salt over the endpoint, the model and the
 * client's own cache_salt, so tenants never share a routing key (their KV caches are salted apart too).
 */
export function chunkRoot(tenantSalt: string, endpoint: string, model: string, clientSalt: string): string {
  return createHmac("sha256", tenantSalt)
    .update(`gpu\n${endpoint}\n${model}\n${clientSalt}`)
    .digest("base64url")
    .slice(0, HASH_CHARS);
}

/** `hashes[k]` identifies the text's first (k + 1) x CHUNK_CHARS characters under `root`. */
export function chunkHashes(root: string, text: string, chunkChars = CHUNK_CHARS): string[] {
  const full = Math.min(Math.floor(text.length / chunkChars), MAX_CHUNKS);
  const out: string[] = new Array(full);
  const hash = createHash("sha256").update(root);
  for (let k = 0; k < full; k++) {
    hash.update(text.slice(k * chunkChars, (k + 1) * chunkChars));
    out[k] = hash.copy().digest("base64url").slice(0, HASH_CHARS);
  }
  return out;
}

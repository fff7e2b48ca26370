import type { KeepaliveRow } from "./keepalive-store.ts";
import type { RecordRequest } from "./types.ts";

/** A read this close to the pinged entry's size counts as reading it (estimates vs. the provider's count). */
const READ_SHARE = 0.9;

/**
 * Counts a rewrite that keepalive avoided: a real request of a conversation whose entry was pinged since its
 * last real use, arriving after the entry would have lapsed without those pings, and reading it. What it
 * saved is the write that request would otherwise have paid on the tokens the lapse would have lost, less the
 * read it paid instead.
 */
export function noteRescue(sql: SqlStorage, r: RecordRequest, ttlMs: (ttl: string) => number): void {
  const u = r.usage;
  if (r.conversation === null || u === null || r.result !== "ok" || r.keepalive) return;
  // Not `*`: the row holds the sealed request (up to 1.8 MB), which this check does not read.
  const row = sql
    .exec<Pick<KeepaliveRow, "hash" | "tokens" | "exposed" | "pings" | "last_use" | "ttl">>(
      "SELECT hash, tokens, exposed, pings, last_use, ttl FROM keepalive WHERE conversation = ?",
      r.conversation,
    )
    .toArray()[0];
  if (!row || row.pings === 0 || r.at <= row.last_use + ttlMs(row.ttl)) return;
  if (u.cacheReadTokens < row.tokens * READ_SHARE) return;
  const write = r.pricing.cacheWrite5m ?? 1;
  // Only what the lapse would have lost: an entry that outlives this one (a 1h head) would have been read anyway.
  const saved =
    (row.exposed ?? row.tokens) * r.pricing.inputPerToken * Math.max(0, write - r.pricing.cacheRead);
  sql.exec(
    `INSERT OR IGNORE INTO rescues (at, request_id, upstream, model, hash, tokens, pings, saved_usd)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    r.at,
    r.requestId,
    r.upstream,
    r.model,
    row.hash,
    row.tokens,
    row.pings,
    saved,
  );
}

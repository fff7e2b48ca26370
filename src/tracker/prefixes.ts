import type { PrefixState } from "../plan/types.ts";
import { believedAfter, type PositionBelief, ttlTable } from "./belief.ts";
import type { LookupResult, RecordRequest } from "./types.ts";

interface PrefixRow extends Record<string, SqlStorageValue> {
  hash: string;
  tokens: number;
  last_seen: number;
  seen: number;
  hits: number;
  misses: number;
  writes: number;
  cached_until: number | null;
  ttl: string | null;
  gap_count: number;
  gap_5m: number;
  gap_1h: number;
}

const FIVE_MIN = 5 * 60_000;
const ONE_HOUR = 60 * 60_000;

/** What is known of each chain hash (unknown hashes are absent). */
export function lookupPrefixes(sql: SqlStorage, list: readonly string[], nowMs: number): LookupResult {
  const out: LookupResult = {};
  if (list.length === 0) return out;
  const placeholders = list.map(() => "?").join(",");
  const rows = sql
    .exec<PrefixRow>(`SELECT * FROM prefixes WHERE hash IN (${placeholders})`, ...list)
    .toArray();
  for (const row of rows) out[row.hash] = toState(row, nowMs);
  return out;
}

/** Updates every position of a request with what its usage says; returns the beliefs by hash. */
export function updatePrefixes(
  sql: SqlStorage,
  r: RecordRequest,
  shortTtlMs: number,
): Map<string, PositionBelief> {
  const family = r.family as string;
  const beliefs = new Map<string, PositionBelief>();
  const ttls = ttlTable(shortTtlMs);
  let reuseGap: number | null = null;
  // One read for every position's row, then one write each.
  const existing = new Map<string, PrefixRow>();
  if (r.positions.length > 0) {
    const marks = r.positions.map(() => "?").join(",");
    const hashes = r.positions.map((p) => p.hash);
    for (const row of sql.exec<PrefixRow>(`SELECT * FROM prefixes WHERE hash IN (${marks})`, ...hashes)) {
      existing.set(row.hash, row);
    }
  }
  const entries = new Set([...existing.values()].filter((row) => row.writes > 0).map((row) => row.hash));
  const after = believedAfter(r, shortTtlMs, entries);
  r.positions.forEach((p, i) => {
    const row = existing.get(p.hash);
    const b = after[i];
    if (!b) return;
    beliefs.set(p.hash, b);
    const tokens = b.tokens;
    if (!row) {
      sql.exec(
        `INSERT INTO prefixes (hash, family, upstream, model, tokens, first_seen, last_seen, seen, hits, misses, writes,
            last_write, last_refresh, cached_until, ttl, gap_count, gap_5m, gap_1h)
           VALUES (?, ?, ?, ?, ?, ?, ?, 1, 0, 0, ?, ?, NULL, ?, ?, 0, 0, 0)`,
        p.hash,
        family,
        r.upstream,
        r.model,
        tokens,
        r.at,
        r.at,
        b.written ? 1 : 0,
        b.written ? r.at : null,
        b.cachedUntil,
        b.ttl,
      );
      return;
    }
    const gap = Math.max(0, r.at - row.last_seen);
    reuseGap = gap; // the deepest position seen before is the prefix this request reuses
    const wasCached = row.cached_until !== null && row.cached_until > r.at;
    // A read restarts the entry's own TTL (a 1h entry stays 1h).
    const readUntil =
      row.ttl !== null && row.ttl in ttls ? r.at + ttls[row.ttl as keyof typeof ttls] : b.cachedUntil;
    const missed = b.measured && wasCached && !b.read;
    sql.exec(
      `UPDATE prefixes SET tokens = ?, last_seen = ?, seen = seen + 1, hits = hits + ?, misses = misses + ?,
          writes = writes + ?, last_write = COALESCE(?, last_write), last_refresh = COALESCE(?, last_refresh),
          cached_until = ?, ttl = COALESCE(?, ttl), gap_count = gap_count + 1, gap_5m = gap_5m + ?, gap_1h = gap_1h + ?
         WHERE hash = ?`,
      b.exact ? tokens : row.tokens,
      r.at,
      b.read ? 1 : 0,
      missed ? 1 : 0,
      b.written ? 1 : 0,
      b.written ? r.at : null,
      b.read ? r.at : null,
      b.written ? b.cachedUntil : b.read ? readUntil : missed ? null : row.cached_until,
      b.written ? b.ttl : null,
      gap <= FIVE_MIN ? 1 : 0,
      gap <= ONE_HOUR ? 1 : 0,
      p.hash,
    );
  });
  if (reuseGap !== null) {
    sql.exec("INSERT INTO gaps (family, at, gap_ms) VALUES (?, ?, ?)", family, r.at, reuseGap);
  }
  return beliefs;
}

function toState(row: PrefixRow, nowMs: number): PrefixState {
  const cached = row.cached_until !== null && row.cached_until > nowMs;
  return {
    tokens: row.tokens,
    seen: row.seen,
    lastSeenMs: row.last_seen,
    cachedUntilMs: cached ? row.cached_until : null,
    ttl: cached ? (row.ttl as PrefixState["ttl"]) : null,
    gaps: { count: row.gap_count, within5m: row.gap_5m, within1h: row.gap_1h },
  };
}

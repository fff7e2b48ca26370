import type { PrefixState } from "../plan/types.ts";
import { believedAfter, type PositionBelief, ttlTable } from "./belief.ts";
import type { LookupResult, RecordRequest } from "./types.ts";

/** The columns the update and the states read (first_seen, hits, misses… are written by SQL only). */
interface PrefixRow extends Record<string, SqlStorageValue> {
  hash: string;
  tokens: number;
  last_seen: number;
  seen: number;
  writes: number;
  cached_until: number | null;
  ttl: string | null;
  gap_count: number;
  gap_5m: number;
  gap_1h: number;
}

// Named, not `*`: building each row's object is most of a read's cost, and it grows with the columns.
const COLUMNS = "hash, tokens, last_seen, seen, writes, cached_until, ttl, gap_count, gap_5m, gap_1h";

const FIVE_MIN = 5 * 60_000;
const ONE_HOUR = 60 * 60_000;

/** What is known of each chain hash (unknown hashes are absent). */
export function lookupPrefixes(sql: SqlStorage, list: readonly string[], nowMs: number): LookupResult {
  const out: LookupResult = {};
  if (list.length === 0) return out;
  const placeholders = list.map(() => "?").join(",");
  const rows = sql
    .exec<PrefixRow>(`SELECT ${COLUMNS} FROM prefixes WHERE hash IN (${placeholders})`, ...list)
    .toArray();
  for (const row of rows) out[row.hash] = toState(row, nowMs);
  return out;
}

/** The rows the positions of a request already have, by hash (one read). */
function existingRows(sql: SqlStorage, r: RecordRequest): Map<string, PrefixRow> {
  const existing = new Map<string, PrefixRow>();
  if (r.positions.length > 0) {
    const marks = r.positions.map(() => "?").join(",");
    const hashes = r.positions.map((p) => p.hash);
    for (const row of sql.exec<PrefixRow>(
      `SELECT ${COLUMNS} FROM prefixes WHERE hash IN (${marks})`,
      ...hashes,
    )) {
      existing.set(row.hash, row);
    }
  }
  return existing;
}

function beliefsOver(
  r: RecordRequest,
  shortTtlMs: number,
  existing: ReadonlyMap<string, PrefixRow>,
): PositionBelief[] {
  const entries = new Set([...existing.values()].filter((row) => row.writes > 0).map((row) => row.hash));
  return believedAfter(r, shortTtlMs, entries);
}

/**
 * Updates every position of a request with what its usage says; returns the beliefs by hash. With `states`,
 * also fills in what `lookupPrefixes(…, r.at)` would now answer for the positions, from the values written.
 * One read of the positions' rows, then one INSERT for the new ones and one UPDATE for the others (their
 * values passed as one JSON array each): a statement costs more than the rows it writes.
 */
export function updatePrefixes(
  sql: SqlStorage,
  r: RecordRequest,
  shortTtlMs: number,
  states?: LookupResult,
): Map<string, PositionBelief> {
  const family = r.family as string;
  const beliefs = new Map<string, PositionBelief>();
  const ttls = ttlTable(shortTtlMs);
  let reuseGap: number | null = null;
  const existing = existingRows(sql, r);
  const after = beliefsOver(r, shortTtlMs, existing);
  // [hash, tokens, writes, last_write, cached_until, ttl]
  const inserts: (string | number | null)[][] = [];
  // [hash, tokens, hits+, misses+, writes+, last_write, last_refresh, cached_until, ttl, gap_5m+, gap_1h+]
  const updates: (string | number | null)[][] = [];
  const done = new Set<string>();
  r.positions.forEach((p, i) => {
    const row = existing.get(p.hash);
    const b = after[i];
    // A chain hash names one position; should one come twice, its first place counts.
    if (!b || done.has(p.hash)) return;
    done.add(p.hash);
    beliefs.set(p.hash, b);
    const tokens = b.tokens;
    if (!row) {
      if (states)
        states[p.hash] = toState(
          {
            hash: p.hash,
            tokens,
            last_seen: r.at,
            seen: 1,
            writes: b.written ? 1 : 0,
            cached_until: b.cachedUntil,
            ttl: b.ttl,
            gap_count: 0,
            gap_5m: 0,
            gap_1h: 0,
          },
          r.at,
        );
      inserts.push([p.hash, tokens, b.written ? 1 : 0, b.written ? r.at : null, b.cachedUntil, b.ttl]);
      return;
    }
    const gap = Math.max(0, r.at - row.last_seen);
    reuseGap = gap; // the deepest position seen before is the prefix this request reuses
    const wasCached = row.cached_until !== null && row.cached_until > r.at;
    // A read restarts the entry's own TTL (a 1h entry stays 1h).
    const readUntil =
      row.ttl !== null && row.ttl in ttls ? r.at + ttls[row.ttl as keyof typeof ttls] : b.cachedUntil;
    const missed = b.measured && wasCached && !b.read;
    const cachedUntil = b.written ? b.cachedUntil : b.read ? readUntil : missed ? null : row.cached_until;
    if (states)
      states[p.hash] = toState(
        {
          hash: p.hash,
          tokens: b.exact ? tokens : row.tokens,
          last_seen: r.at,
          seen: row.seen + 1,
          writes: row.writes + (b.written ? 1 : 0),
          cached_until: cachedUntil,
          ttl: (b.written ? b.ttl : null) ?? row.ttl,
          gap_count: row.gap_count + 1,
          gap_5m: row.gap_5m + (gap <= FIVE_MIN ? 1 : 0),
          gap_1h: row.gap_1h + (gap <= ONE_HOUR ? 1 : 0),
        },
        r.at,
      );
    updates.push([
      p.hash,
      b.exact ? tokens : row.tokens,
      b.read ? 1 : 0,
      missed ? 1 : 0,
      b.written ? 1 : 0,
      b.written ? r.at : null,
      b.read ? r.at : null,
      cachedUntil,
      b.written ? b.ttl : null,
      gap <= FIVE_MIN ? 1 : 0,
      gap <= ONE_HOUR ? 1 : 0,
    ]);
  });
  if (inserts.length > 0) {
    sql.exec(
      `INSERT INTO prefixes (hash, family, upstream, model, tokens, first_seen, last_seen, seen, hits, misses, writes,
          last_write, last_refresh, cached_until, ttl, gap_count, gap_5m, gap_1h)
         SELECT json_extract(value, '$[0]'), ?, ?, ?, json_extract(value, '$[1]'), ?, ?, 1, 0, 0,
           json_extract(value, '$[2]'), json_extract(value, '$[3]'), NULL, json_extract(value, '$[4]'),
           json_extract(value, '$[5]'), 0, 0, 0
         FROM json_each(?)`,
      family,
      r.upstream,
      r.model,
      r.at,
      r.at,
      JSON.stringify(inserts),
    );
  }
  if (updates.length > 0) {
    sql.exec(
      `UPDATE prefixes SET tokens = v.n_tokens, last_seen = ?, seen = seen + 1, hits = hits + v.n_read,
          misses = misses + v.n_missed, writes = writes + v.n_written, last_write = COALESCE(v.n_last_write, last_write),
          last_refresh = COALESCE(v.n_last_refresh, last_refresh), cached_until = v.n_cached_until,
          ttl = COALESCE(v.n_ttl, ttl), gap_count = gap_count + 1, gap_5m = gap_5m + v.n_gap_5m,
          gap_1h = gap_1h + v.n_gap_1h
         FROM (SELECT json_extract(value, '$[0]') AS n_hash, json_extract(value, '$[1]') AS n_tokens,
             json_extract(value, '$[2]') AS n_read, json_extract(value, '$[3]') AS n_missed,
             json_extract(value, '$[4]') AS n_written, json_extract(value, '$[5]') AS n_last_write,
             json_extract(value, '$[6]') AS n_last_refresh, json_extract(value, '$[7]') AS n_cached_until,
             json_extract(value, '$[8]') AS n_ttl, json_extract(value, '$[9]') AS n_gap_5m,
             json_extract(value, '$[10]') AS n_gap_1h
           FROM json_each(?)) AS v
         WHERE prefixes.hash = v.n_hash`,
      r.at,
      JSON.stringify(updates),
    );
  }
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

import { type PrefixRow, type PrefixUpdate, toState } from "./prefix-update.ts";
import type { PrefixStore } from "./record-state.ts";
import type { LookupResult, RecordRequest } from "./types.ts";

// Named, not `*`, and read as arrays (`raw()`): building each row as an object through the runtime was most
// of a read's cost (20 rows: 187 µs as objects, 100 µs as arrays, measured in workerd).
const COLUMNS = "hash, tokens, last_seen, seen, writes, cached_until, ttl, gap_count, gap_5m, gap_1h";
type RawPrefixRow = [
  string,
  number,
  number,
  number,
  number,
  number | null,
  string | null,
  number,
  number,
  number,
];

/** The rows of those of `hashes` that have one (one read). */
function readRows(sql: SqlStorage, hashes: readonly string[]): PrefixRow[] {
  if (hashes.length === 0) return [];
  const marks = hashes.map(() => "?").join(",");
  const out: PrefixRow[] = [];
  const rows = sql.exec(`SELECT ${COLUMNS} FROM prefixes WHERE hash IN (${marks})`, ...hashes).raw();
  for (const r of rows as Iterable<RawPrefixRow>)
    out.push({
      hash: r[0],
      tokens: r[1],
      last_seen: r[2],
      seen: r[3],
      writes: r[4],
      cached_until: r[5],
      ttl: r[6],
      gap_count: r[7],
      gap_5m: r[8],
      gap_1h: r[9],
    });
  return out;
}

/** What is known of each chain hash (unknown hashes are absent). */
export function lookupPrefixes(sql: SqlStorage, list: readonly string[], nowMs: number): LookupResult {
  const out: LookupResult = {};
  for (const row of readRows(sql, list)) out[row.hash] = toState(row, nowMs);
  return out;
}

/** The rows some hashes already have, by hash (one read). */
function existingRows(sql: SqlStorage, hashes: readonly string[]): Map<string, PrefixRow> {
  const existing = new Map<string, PrefixRow>();
  for (const row of readRows(sql, hashes)) existing.set(row.hash, row);
  return existing;
}

/** The rows the positions of a request already have, and the writes of `prefixUpdate`'s changes. */
export class SqlPrefixStore implements PrefixStore {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  rows(hashes: readonly string[]): Map<string, PrefixRow> {
    return existingRows(this.#sql, hashes);
  }

  apply(r: RecordRequest, update: PrefixUpdate): void {
    writePrefixes(this.#sql, r, update);
  }
}

/**
 * One INSERT for the new rows and one UPDATE for the others (their values passed as one JSON array each): a
 * statement costs more than the rows it writes.
 */
function writePrefixes(sql: SqlStorage, r: RecordRequest, update: PrefixUpdate): void {
  const family = r.family as string;
  const { changes, reuseGap } = update;
  // [hash, tokens, writes, last_write, cached_until, ttl, writes_1h]
  const inserts: (string | number | null)[][] = [];
  // [hash, tokens, hits+, misses+, writes+, last_write, last_refresh, cached_until, ttl, gap_5m, gap_1h, writes_1h+]
  const updates: (string | number | null)[][] = [];
  for (const c of changes) {
    const row = c.row;
    const written1h = c.written && row.ttl === "1h" ? 1 : 0;
    if (c.isNew) {
      inserts.push([
        row.hash,
        row.tokens,
        row.writes,
        c.written ? r.at : null,
        row.cached_until,
        row.ttl,
        written1h,
      ]);
      continue;
    }
    updates.push([
      row.hash,
      row.tokens,
      c.read ? 1 : 0,
      c.missed ? 1 : 0,
      c.written ? 1 : 0,
      c.written ? r.at : null,
      c.read ? r.at : null,
      row.cached_until,
      c.written ? row.ttl : null,
      row.gap_5m,
      row.gap_1h,
      written1h,
    ]);
  }
  if (inserts.length > 0) {
    sql.exec(
      `INSERT INTO prefixes (hash, family, upstream, model, tokens, first_seen, last_seen, seen, hits, misses, writes,
          last_write, last_refresh, cached_until, ttl, gap_count, gap_5m, gap_1h, writes_1h)
         SELECT json_extract(value, '$[0]'), ?, ?, ?, json_extract(value, '$[1]'), ?, ?, 1, 0, 0,
           json_extract(value, '$[2]'), json_extract(value, '$[3]'), NULL, json_extract(value, '$[4]'),
           json_extract(value, '$[5]'), 0, 0, 0, json_extract(value, '$[6]')
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
          ttl = COALESCE(v.n_ttl, ttl), gap_count = gap_count + 1, gap_5m = v.n_gap_5m,
          gap_1h = v.n_gap_1h, writes_1h = writes_1h + v.n_written_1h
         FROM (SELECT json_extract(value, '$[0]') AS n_hash, json_extract(value, '$[1]') AS n_tokens,
             json_extract(value, '$[2]') AS n_read, json_extract(value, '$[3]') AS n_missed,
             json_extract(value, '$[4]') AS n_written, json_extract(value, '$[5]') AS n_last_write,
             json_extract(value, '$[6]') AS n_last_refresh, json_extract(value, '$[7]') AS n_cached_until,
             json_extract(value, '$[8]') AS n_ttl, json_extract(value, '$[9]') AS n_gap_5m,
             json_extract(value, '$[10]') AS n_gap_1h, json_extract(value, '$[11]') AS n_written_1h
           FROM json_each(?)) AS v
         WHERE prefixes.hash = v.n_hash`,
      r.at,
      JSON.stringify(updates),
    );
  }
  if (reuseGap !== null) {
    sql.exec("INSERT INTO gaps (family, at, gap_ms) VALUES (?, ?, ?)", family, r.at, reuseGap);
  }
}

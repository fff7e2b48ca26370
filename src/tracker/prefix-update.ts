import type { PrefixState } from "../decide/types.ts";
import { believedAfter, type PositionBelief, ttlTable } from "./belief.ts";
import type { RecordRequest } from "./types.ts";

/** What is kept of one chain hash: the state the planner reads (the SQL row has a few columns more). */
export interface PrefixRow {
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

/** One position's new row, and the counters the SQL row adds it to (hits, misses, last write/refresh). */
export interface PrefixChange {
  row: PrefixRow;
  isNew: boolean;
  read: boolean;
  missed: boolean;
  written: boolean;
}

export interface PrefixUpdate {
  beliefs: Map<string, PositionBelief>;
  changes: PrefixChange[];
  /** Gap since the deepest position seen before was last seen (the family's reuse gap), if any. */
  reuseGap: number | null;
}

const FIVE_MIN = 5 * 60_000;
const ONE_HOUR = 60 * 60_000;

/**
 * What a request's usage changes in the rows of its positions: pure, so the Tracker (over SQLite) and the
 * economics replay (over memory) update their beliefs with the same code.
 */
export function prefixUpdate(
  r: RecordRequest,
  existing: ReadonlyMap<string, PrefixRow>,
  shortTtlMs: number,
): PrefixUpdate {
  const ttls = ttlTable(shortTtlMs);
  const entries = new Set([...existing.values()].filter((row) => row.writes > 0).map((row) => row.hash));
  const after = believedAfter(r, shortTtlMs, entries);
  const beliefs = new Map<string, PositionBelief>();
  const changes: PrefixChange[] = [];
  let reuseGap: number | null = null;
  r.positions.forEach((p, i) => {
    const old = existing.get(p.hash);
    const b = after[i];
    // A chain hash names one position; should one come twice, its first place counts.
    if (!b || beliefs.has(p.hash)) return;
    beliefs.set(p.hash, b);
    if (!old) {
      changes.push({
        row: {
          hash: p.hash,
          tokens: b.tokens,
          last_seen: r.at,
          seen: 1,
          writes: b.written ? 1 : 0,
          cached_until: b.cachedUntil,
          ttl: b.ttl,
          gap_count: 0,
          gap_5m: 0,
          gap_1h: 0,
        },
        isNew: true,
        read: false,
        missed: false,
        written: b.written,
      });
      return;
    }
    const gap = Math.max(0, r.at - old.last_seen);
    reuseGap = gap; // the deepest position seen before is the prefix this request reuses
    const wasCached = old.cached_until !== null && old.cached_until > r.at;
    // A read restarts the entry's own TTL (a 1h entry stays 1h).
    const readUntil =
      old.ttl !== null && old.ttl in ttls ? r.at + ttls[old.ttl as keyof typeof ttls] : b.cachedUntil;
    const missed = b.measured && wasCached && !b.read;
    const cachedUntil = b.written ? b.cachedUntil : b.read ? readUntil : missed ? null : old.cached_until;
    changes.push({
      row: {
        hash: p.hash,
        tokens: b.exact ? b.tokens : old.tokens,
        last_seen: r.at,
        seen: old.seen + 1,
        writes: old.writes + (b.written ? 1 : 0),
        cached_until: cachedUntil,
        ttl: (b.written ? b.ttl : null) ?? old.ttl,
        gap_count: old.gap_count + 1,
        gap_5m: old.gap_5m + (gap <= FIVE_MIN ? 1 : 0),
        gap_1h: old.gap_1h + (gap <= ONE_HOUR ? 1 : 0),
      },
      isNew: false,
      read: b.read,
      missed,
      written: b.written,
    });
  });
  return { beliefs, changes, reuseGap };
}

/** What `lookup` answers for a row at `nowMs`. */
export function toState(row: PrefixRow, nowMs: number): PrefixState {
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

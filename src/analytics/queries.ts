import { AGREE_SQL, COMPARED_SQL } from "./agreement.ts";
import { addSums, type Figures, type RawSums, toFigures, usd, ZERO_SUMS } from "./figures.ts";

/**
 * The analytics reads over one tenant's tracker storage (tables in src/tracker/storage.md). Run inside the
 * Tracker object; every query is bounded by an index range and a LIMIT.
 */

// Gemini explicit caches' creation and TTL updates are accounted as rows of their own (their spend is in
// cost_usd), but they are not requests of the tenant's.
const SUMS = `COALESCE(SUM(CASE WHEN keepalive = 0 AND endpoint NOT LIKE 'cached_contents.%' THEN 1 END), 0) AS requests,
  COALESCE(SUM(CASE WHEN keepalive = 0 THEN input_tokens END), 0) AS input_tokens,
  COALESCE(SUM(CASE WHEN keepalive = 0 THEN output_tokens END), 0) AS output_tokens,
  COALESCE(SUM(CASE WHEN keepalive = 0 THEN cache_read_tokens END), 0) AS cache_read_tokens,
  COALESCE(SUM(CASE WHEN keepalive = 0 THEN cache_write_5m_tokens END), 0) AS cache_write_5m_tokens,
  COALESCE(SUM(CASE WHEN keepalive = 0 THEN cache_write_1h_tokens END), 0) AS cache_write_1h_tokens,
  COALESCE(SUM(CASE WHEN keepalive = 0 THEN uncached_tokens END), 0) AS uncached_tokens,
  COALESCE(SUM(CASE WHEN keepalive = 0 THEN cost_usd END), 0) AS cost_usd,
  COALESCE(SUM(CASE WHEN keepalive = 0 THEN cost_without_cache_usd END), 0) AS cost_without_cache_usd,
  COALESCE(SUM(keepalive), 0) AS pings,
  COALESCE(SUM(CASE WHEN keepalive = 1 THEN cost_usd END), 0) AS ping_cost_usd`;

type Row = Omit<RawSums, "rescues" | "rescued_usd">;

export interface Summary extends Figures {
  by_upstream: ({ upstream: string } & Figures)[];
  by_model: ({ upstream: string; model: string } & Figures)[];
  gemini_explicit: ExplicitCacheFigures;
}

/** Gemini explicit caches Stoker managed in a range: what they cost (creation and storage) and what they served. */
export interface ExplicitCacheFigures {
  caches_created: number;
  ttl_extensions: number;
  /** Creation (input price) and the storage each creation or extension bought. */
  spend_usd: number;
  /** Tokens requests read from them (prefix tokens of requests that used a cache). */
  read_tokens: number;
  /** What those reads saved against the full input price, minus the spend. */
  net_saved_usd: number;
}

function explicitCaches(sql: SqlStorage, from: number, to: number): ExplicitCacheFigures {
  const row = sql
    .exec<{ created: number; extended: number; spend: number; reads: number; saved: number }>(
      `SELECT
        COALESCE(SUM(CASE WHEN endpoint = 'cached_contents.create' THEN 1 END), 0) AS created,
        COALESCE(SUM(CASE WHEN endpoint = 'cached_contents.update' THEN 1 END), 0) AS extended,
        COALESCE(SUM(CASE WHEN endpoint LIKE 'cached_contents.%' THEN cost_usd END), 0) AS spend,
        COALESCE(SUM(CASE WHEN plan LIKE 'gemini cache=%' THEN cache_read_tokens END), 0) AS reads,
        COALESCE(SUM(CASE WHEN plan LIKE 'gemini cache=%' THEN cost_without_cache_usd - cost_usd END), 0) AS saved
       FROM requests WHERE at >= ? AND at < ? AND upstream = 'gemini'`,
      from,
      to,
    )
    .toArray()[0];
  const r = row ?? { created: 0, extended: 0, spend: 0, reads: 0, saved: 0 };
  return {
    caches_created: r.created,
    ttl_extensions: r.extended,
    spend_usd: usd(r.spend),
    read_tokens: r.reads,
    net_saved_usd: usd(r.saved - r.spend),
  };
}

/** Totals over [from, to), and the same figures per upstream and per model. */
export function summary(sql: SqlStorage, from: number, to: number): Summary {
  const groups = sql
    .exec<Row & { upstream: string; model: string }>(
      `SELECT upstream, model, ${SUMS} FROM requests WHERE at >= ? AND at < ? GROUP BY upstream, model`,
      from,
      to,
    )
    .toArray();
  const rescues = sql
    .exec<{ upstream: string; model: string; rescues: number; rescued_usd: number }>(
      `SELECT upstream, model, COUNT(*) AS rescues, SUM(saved_usd) AS rescued_usd FROM rescues
        WHERE at >= ? AND at < ? GROUP BY upstream, model`,
      from,
      to,
    )
    .toArray();
  const byModel = new Map<string, { upstream: string; model: string; sums: RawSums }>();
  const slot = (upstream: string, model: string) => {
    const key = `${upstream}\u0000${model}`;
    let s = byModel.get(key);
    if (!s) {
      s = { upstream, model, sums: { ...ZERO_SUMS } };
      byModel.set(key, s);
    }
    return s;
  };
  for (const g of groups) {
    const s = slot(g.upstream, g.model);
    s.sums = addSums(s.sums, { ...ZERO_SUMS, ...numbers(g) });
  }
  for (const r of rescues) {
    const s = slot(r.upstream, r.model);
    s.sums = addSums(s.sums, { ...ZERO_SUMS, rescues: r.rescues, rescued_usd: r.rescued_usd });
  }
  let total = { ...ZERO_SUMS };
  const byUpstream = new Map<string, RawSums>();
  for (const { upstream, sums } of byModel.values()) {
    total = addSums(total, sums);
    byUpstream.set(upstream, addSums(byUpstream.get(upstream) ?? { ...ZERO_SUMS }, sums));
  }
  return {
    ...toFigures(total),
    by_upstream: [...byUpstream]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([upstream, sums]) => ({ upstream, ...toFigures(sums) })),
    by_model: [...byModel.values()]
      .sort((a, b) => b.sums.cost_without_cache_usd - a.sums.cost_without_cache_usd)
      .map(({ upstream, model, sums }) => ({ upstream, model, ...toFigures(sums) })),
    gemini_explicit: explicitCaches(sql, from, to),
  };
}

/** The summary's totals per bucket of `bucketMs`, oldest first; empty buckets are left out. */
export function timeseries(
  sql: SqlStorage,
  from: number,
  to: number,
  bucketMs: number,
): ({ start: number } & Figures)[] {
  const rows = sql
    .exec<Row & { start: number }>(
      `SELECT (at - (at % ?)) AS start, ${SUMS} FROM requests WHERE at >= ? AND at < ? GROUP BY start`,
      bucketMs,
      from,
      to,
    )
    .toArray();
  const rescues = sql
    .exec<{ start: number; rescues: number; rescued_usd: number }>(
      `SELECT (at - (at % ?)) AS start, COUNT(*) AS rescues, SUM(saved_usd) AS rescued_usd FROM rescues
        WHERE at >= ? AND at < ? GROUP BY start`,
      bucketMs,
      from,
      to,
    )
    .toArray();
  const buckets = new Map<number, RawSums>();
  for (const r of rows) buckets.set(r.start, { ...ZERO_SUMS, ...numbers(r) });
  for (const r of rescues) {
    const extra = { ...ZERO_SUMS, rescues: r.rescues, rescued_usd: r.rescued_usd };
    buckets.set(r.start, addSums(buckets.get(r.start) ?? { ...ZERO_SUMS }, extra));
  }
  return [...buckets].sort(([a], [b]) => a - b).map(([start, sums]) => ({ start, ...toFigures(sums) }));
}

export interface PrefixRow {
  hash: string;
  family: string;
  upstream: string;
  model: string;
  tokens: number;
  seen: number;
  hits: number;
  misses: number;
  writes: number;
  /** Of `writes`, those for the hour. */
  writes_1h: number;
  last_seen: number;
  last_refresh: number | null;
  cached_until: number | null;
  ttl: string | null;
  keepalive_state: string | null;
  keepalive_pings: number | null;
}

/** The entries that saved the most tokens (reads × size), then the most recent; `offset` pages on. */
export function topPrefixes(sql: SqlStorage, limit: number, offset: number): PrefixRow[] {
  return sql
    .exec<PrefixRow & Record<string, SqlStorageValue>>(
      `SELECT p.hash, p.family, p.upstream, p.model, p.tokens, p.seen, p.hits, p.misses, p.writes, p.writes_1h, p.last_seen,
          p.last_refresh, p.cached_until, p.ttl, k.state AS keepalive_state, k.pings AS keepalive_pings
        FROM prefixes p LEFT JOIN keepalive k ON k.hash = p.hash
        ORDER BY p.hits * p.tokens DESC, p.last_seen DESC, p.hash LIMIT ? OFFSET ?`,
      limit,
      offset,
    )
    .toArray();
}

export interface BusterGroupRow {
  kind: string;
  segment: number | null;
  volatile: number;
  upstream: string;
  model: string;
  count: number;
  tokens_lost: number;
  cost_usd: number;
  first_at: number;
  last_at: number;
  excerpt_id: number | null;
  /** Anthropic cache diagnostics (analytics/agreement.ts): findings the provider gave a verdict on. */
  provider_compared: number;
  provider_agrees: number;
  /** The provider's reasons for the group's findings, comma-joined. */
  provider_reasons: string | null;
}

/**
 * Cache-buster findings grouped by where prompts diverge: the kind, the head segment (tools and system; a
 * message's index differs per conversation so messages group by kind), whether a volatile span was there.
 * Costliest first; the newest excerpt of each group is referenced by row id.
 */
export function busterGroups(sql: SqlStorage, limit: number, offset: number): BusterGroupRow[] {
  return sql
    .exec<BusterGroupRow & Record<string, SqlStorageValue>>(
      `SELECT kind, seg AS segment, volatile, upstream, model, COUNT(*) AS count, SUM(tokens_lost) AS tokens_lost,
          SUM(cost_usd) AS cost_usd, MIN(at) AS first_at, MAX(at) AS last_at,
          MAX(CASE WHEN excerpt IS NOT NULL THEN id END) AS excerpt_id,
          ${COMPARED_SQL} AS provider_compared, ${AGREE_SQL} AS provider_agrees,
          GROUP_CONCAT(provider_reason) AS provider_reasons
        FROM (SELECT *, CASE WHEN kind = 'message' THEN NULL ELSE segment END AS seg FROM busters)
        GROUP BY kind, seg, volatile, upstream, model
        ORDER BY SUM(cost_usd) DESC, MAX(at) DESC LIMIT ? OFFSET ?`,
      limit,
      offset,
    )
    .toArray();
}

export function busterExcerpt(
  sql: SqlStorage,
  id: number,
): { request_id: string; iv: ArrayBuffer; data: ArrayBuffer } | null {
  const row = sql
    .exec<{ request_id: string; excerpt_iv: ArrayBuffer | null; excerpt: ArrayBuffer | null }>(
      "SELECT request_id, excerpt_iv, excerpt FROM busters WHERE id = ?",
      id,
    )
    .toArray()[0];
  if (!row?.excerpt_iv || !row.excerpt) return null;
  return { request_id: row.request_id, iv: row.excerpt_iv, data: row.excerpt };
}

function numbers(r: Record<string, unknown>): Row {
  const out = {} as Record<string, number>;
  for (const k of Object.keys(ZERO_SUMS)) if (typeof r[k] === "number") out[k] = r[k] as number;
  return out as unknown as Row;
}

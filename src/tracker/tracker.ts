import { DurableObject } from "cloudflare:workers";
import type { PrefixState } from "../plan/types.ts";
import type { ChainSummary } from "../prefix/diff.ts";
import { believedAfter } from "./belief.ts";
import { findBuster } from "./busters.ts";
import { LIMITS, migrate } from "./schema.ts";
import type { BusterFinding, LookupResult, RecordRequest, RpcResult, Totals } from "./types.ts";
import { TrackerInputError, validateLookup, validateRecord } from "./validate.ts";

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
const TTL_MS = { "5m": FIVE_MIN, "30m": 30 * 60_000, "1h": ONE_HOUR } as const;
/** Housekeeping (row caps, retention) runs once per this many records, not on every one. */
const HOUSEKEEPING_EVERY = 200;

/**
 * One per tenant (`idFromName(tenantId)`): what Stoker believes each provider holds for the tenant, and
 * the per-request accounting. Layout and retention: storage.md beside this file.
 */
export class Tracker extends DurableObject<Env> {
  private recordsSinceHousekeeping = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => migrate(ctx.storage.sql));
  }

  /** What is known of each chain hash (unknown hashes are absent). */
  async lookup(hashes: string[], nowMs: number): Promise<RpcResult<LookupResult>> {
    const invalid = rejectInvalid(() => validateLookup(hashes));
    if (invalid) return invalid;
    const list = hashes;
    const out: LookupResult = {};
    if (list.length === 0) return { ok: true, value: out };
    const placeholders = list.map(() => "?").join(",");
    const rows = this.ctx.storage.sql
      .exec<PrefixRow>(`SELECT * FROM prefixes WHERE hash IN (${placeholders})`, ...list)
      .toArray();
    for (const row of rows) out[row.hash] = toState(row, nowMs);
    return { ok: true, value: out };
  }

  /** Accounts one request and updates what is believed cached; idempotent per request id. */
  async record(input: RecordRequest): Promise<RpcResult<{ counted: boolean }>> {
    const invalid = rejectInvalid(() => validateRecord(input));
    if (invalid) return invalid;
    const r = input;
    let counted = false;
    const sql = this.ctx.storage.sql;
    this.ctx.storage.transactionSync(() => {
      const u = r.usage;
      const inserted = sql.exec(
        `INSERT OR IGNORE INTO requests (request_id, at, upstream, endpoint, model, stream, keepalive, status, result,
          input_tokens, uncached_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, output_tokens,
          cost_usd, cost_without_cache_usd, ttfb_ms, duration_ms, plan)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        r.requestId,
        r.at,
        r.upstream,
        r.endpoint,
        r.model,
        r.stream ? 1 : 0,
        r.keepalive ? 1 : 0,
        r.status,
        r.result,
        u?.inputTokens ?? 0,
        u?.uncachedTokens ?? 0,
        u?.cacheReadTokens ?? 0,
        u?.cacheWrite5mTokens ?? 0,
        u?.cacheWrite1hTokens ?? 0,
        u?.outputTokens ?? 0,
        r.costUsd,
        r.costWithoutCacheUsd,
        r.ttfbMs,
        r.durationMs,
        r.plan,
      );
      if (inserted.rowsWritten === 0) return; // a retried record: already counted
      counted = true;
      if (r.family !== null && r.positions.length > 0) this.updatePrefixes(r);
      if (r.chain) this.diagnose(r);
    });
    if (++this.recordsSinceHousekeeping >= HOUSEKEEPING_EVERY) {
      this.recordsSinceHousekeeping = 0;
      this.housekeeping(r.at);
    }
    return { ok: true, value: { counted } };
  }

  /** Sums of the accounting rows in [fromMs, toMs). */
  async totals(fromMs = 0, toMs = Number.MAX_SAFE_INTEGER): Promise<Totals> {
    const row = this.ctx.storage.sql
      .exec<Record<string, number>>(
        `SELECT COUNT(*) AS requests, COALESCE(SUM(input_tokens),0) AS inputTokens,
          COALESCE(SUM(uncached_tokens),0) AS uncachedTokens, COALESCE(SUM(cache_read_tokens),0) AS cacheReadTokens,
          COALESCE(SUM(cache_write_5m_tokens),0) AS cacheWrite5mTokens, COALESCE(SUM(cache_write_1h_tokens),0) AS cacheWrite1hTokens,
          COALESCE(SUM(output_tokens),0) AS outputTokens, COALESCE(SUM(cost_usd),0) AS costUsd,
          COALESCE(SUM(cost_without_cache_usd),0) AS costWithoutCacheUsd
         FROM requests WHERE at >= ? AND at < ?`,
        fromMs,
        toMs,
      )
      .one();
    return row as unknown as Totals;
  }

  private updatePrefixes(r: RecordRequest): void {
    const sql = this.ctx.storage.sql;
    const family = r.family as string;
    const after = believedAfter(r);
    let reuseGap: number | null = null;
    r.positions.forEach((p, i) => {
      const row = sql.exec<PrefixRow>("SELECT * FROM prefixes WHERE hash = ?", p.hash).toArray()[0];
      const b = after[i];
      if (!b) return;
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
        row.ttl !== null && row.ttl in TTL_MS ? r.at + TTL_MS[row.ttl as keyof typeof TTL_MS] : b.cachedUntil;
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
    if (reuseGap !== null)
      sql.exec("INSERT INTO gaps (family, at, gap_ms) VALUES (?, ?, ?)", family, r.at, reuseGap);
  }

  /** Looks for a cache-buster behind this request's miss, then keeps its chain for the next one. */
  private diagnose(r: RecordRequest): void {
    const sql = this.ctx.storage.sql;
    const lineage = `${r.upstream}:${r.model}`;
    const recent = sql
      .exec<{ at: number; cached_tokens: number; summary: string }>(
        "SELECT at, cached_tokens, summary FROM recent_chains WHERE lineage = ? ORDER BY at DESC LIMIT ?",
        lineage,
        LIMITS.chainsPerLineage,
      )
      .toArray()
      .map((row) => ({
        at: row.at,
        cachedTokens: row.cached_tokens,
        summary: JSON.parse(row.summary) as ChainSummary,
      }));
    const finding = findBuster(r, recent);
    if (finding) {
      sql.exec(
        `INSERT INTO busters (at, request_id, upstream, model, kind, segment, message, volatile, tokens_lost, cost_usd)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        finding.at,
        finding.requestId,
        r.upstream,
        r.model,
        finding.kind,
        finding.segment,
        finding.message,
        finding.volatile ? 1 : 0,
        finding.tokensLost,
        finding.costUsd,
      );
    }
    const u = r.usage;
    const cached = u ? u.cacheReadTokens + u.cacheWrite5mTokens + u.cacheWrite1hTokens : 0;
    sql.exec(
      "INSERT INTO recent_chains (lineage, at, cached_tokens, summary) VALUES (?, ?, ?, ?)",
      lineage,
      r.at,
      cached,
      JSON.stringify(r.chain),
    );
    sql.exec(
      `DELETE FROM recent_chains WHERE lineage = ? AND id NOT IN
        (SELECT id FROM recent_chains WHERE lineage = ? ORDER BY at DESC, id DESC LIMIT ?)`,
      lineage,
      lineage,
      LIMITS.chainsPerLineage,
    );
  }

  /** The newest cache-buster findings. */
  async busters(limit = 100): Promise<BusterFinding[]> {
    return this.ctx.storage.sql
      .exec<Record<string, SqlStorageValue>>(
        "SELECT * FROM busters ORDER BY at DESC, id DESC LIMIT ?",
        Math.max(1, Math.min(1000, Math.floor(limit))),
      )
      .toArray()
      .map((row) => ({
        at: row.at as number,
        requestId: row.request_id as string,
        kind: row.kind as string,
        segment: row.segment as number,
        message: row.message as number | null,
        volatile: row.volatile === 1,
        tokensLost: row.tokens_lost as number,
        costUsd: row.cost_usd as number,
      }));
  }

  private housekeeping(nowMs: number): void {
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM requests WHERE at < ?", nowMs - LIMITS.requestsRetentionMs);
    const { n } = sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM prefixes").one();
    if (n > LIMITS.prefixes) {
      sql.exec(
        "DELETE FROM prefixes WHERE hash IN (SELECT hash FROM prefixes ORDER BY last_seen ASC LIMIT ?)",
        n - LIMITS.prefixes,
      );
    }
    sql.exec(
      "DELETE FROM busters WHERE id NOT IN (SELECT id FROM busters ORDER BY at DESC LIMIT ?)",
      LIMITS.busters,
    );
    sql.exec(
      `DELETE FROM gaps WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY family ORDER BY at DESC) AS k
        FROM gaps) WHERE k > ?)`,
      LIMITS.gapsPerFamily,
    );
  }
}

function rejectInvalid(check: () => unknown): { ok: false; error: string } | null {
  try {
    check();
    return null;
  } catch (err) {
    if (err instanceof TrackerInputError) return { ok: false, error: err.message };
    throw err;
  }
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

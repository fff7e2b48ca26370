import { type Accounting, USAGE_FIELDS } from "../upstream/accounting.ts";
import type { Totals } from "./types.ts";

/** The `requests` row of one request's accounting, in the column order of `insertRequest`. */
export function accountingRow(a: Accounting): SqlStorageValue[] {
  const u = a.usage;
  return [
    a.requestId,
    a.at,
    a.upstream,
    a.endpoint,
    a.model,
    a.stream ? 1 : 0,
    a.keepalive ? 1 : 0,
    a.status,
    a.result,
    ...USAGE_FIELDS.map((k) => u?.[k] ?? 0),
    a.costUsd,
    a.costWithoutCacheUsd,
    a.ttfbMs,
    a.durationMs,
    a.plan,
  ];
}

/** Adds one accounting row; false when the request id was already counted (a retried record). */
export function insertRequest(sql: SqlStorage, a: Accounting): boolean {
  // RETURNING yields a row only for an insert that happened: `rowsWritten` also counts the AUTOINCREMENT
  // sequence's write, so it is 1 for an ignored duplicate too.
  const inserted = sql.exec(
    `INSERT OR IGNORE INTO requests (request_id, at, upstream, endpoint, model, stream, keepalive, status, result,
      input_tokens, uncached_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, output_tokens,
      cost_usd, cost_without_cache_usd, ttfb_ms, duration_ms, plan)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    ...accountingRow(a),
  );
  return inserted.toArray().length > 0;
}

/** Sums of the accounting rows in [fromMs, toMs). */
export function sumRequests(sql: SqlStorage, fromMs: number, toMs: number): Totals {
  const row = sql
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

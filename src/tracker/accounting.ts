import type { RecordRequest, Totals } from "./types.ts";

/** Adds one accounting row; false when the request id was already counted (a retried record). */
export function insertRequest(sql: SqlStorage, r: RecordRequest): boolean {
  const u = r.usage;
  // RETURNING yields a row only for an insert that happened: `rowsWritten` also counts the AUTOINCREMENT
  // sequence's write, so it is 1 for an ignored duplicate too.
  const inserted = sql.exec(
    `INSERT OR IGNORE INTO requests (request_id, at, upstream, endpoint, model, stream, keepalive, status, result,
      input_tokens, uncached_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, output_tokens,
      cost_usd, cost_without_cache_usd, ttfb_ms, duration_ms, plan)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
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

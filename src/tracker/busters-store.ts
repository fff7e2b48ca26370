import type { Sealed } from "../core/crypto.ts";
import type { ChainSummary } from "../prefix/diff.ts";
import { findBuster, MISS_SHARE } from "./busters.ts";
import { LIMITS } from "./schema.ts";
import type { BusterFinding, RecordRequest } from "./types.ts";

/** A request that read at least the miss share of its prompt cannot be a buster's victim (see findBuster). */
function couldHaveMissed(r: RecordRequest): boolean {
  const u = r.usage;
  return u !== null && r.result === "ok" && u.cacheReadTokens < u.inputTokens * MISS_SHARE;
}

/** Looks for a cache-buster behind this request's miss, then keeps its chain for the next one. */
export function diagnose(sql: SqlStorage, r: RecordRequest, excerpts: Map<number, Sealed> = new Map()): void {
  const lineage = `${r.upstream}:${r.model}`;
  // Only a miss can have a buster behind it: skip reading and parsing the recent chains otherwise.
  const recent = !couldHaveMissed(r)
    ? []
    : sql
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
    const excerpt = excerptFor(excerpts, finding.segment);
    sql.exec(
      `INSERT INTO busters (at, request_id, upstream, model, kind, segment, message, volatile, tokens_lost, cost_usd,
          excerpt_iv, excerpt, provider_reason, provider_missed_tokens)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
      excerpt?.iv ?? null,
      excerpt?.data ?? null,
      r.providerMiss?.reason ?? null,
      r.providerMiss?.missedTokens ?? null,
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

/** The excerpt of the diverging segment, else of the nearest volatile segment before it. */
function excerptFor(excerpts: Map<number, Sealed>, segment: number): Sealed | undefined {
  if (excerpts.has(segment)) return excerpts.get(segment);
  let best: number | undefined;
  for (const s of excerpts.keys()) if (s <= segment && (best === undefined || s > best)) best = s;
  return best === undefined ? excerpts.values().next().value : excerpts.get(best);
}

/** The newest cache-buster findings. */
export function listBusters(sql: SqlStorage, limit: number): BusterFinding[] {
  return sql
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
      providerReason: (row.provider_reason as string | null) ?? null,
    }));
}

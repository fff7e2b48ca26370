import { SIM_NOW_HEADER } from "../core/clock.ts";
import type { Config } from "../core/config.ts";
import { chooseDeletion, deletionDueAt, storageUsd } from "../decide/gemini-policy.ts";
import { type ModelInfo, modelInfo } from "../economics/models.ts";
import { insertRequest } from "./accounting.ts";
import { ended, type ReviewedCache, reviewable } from "./gemini-caches.ts";

/** Live caches one review weighs at most (soonest expiry first). */
const REVIEW_LIMIT = 50;

/** What one review did. */
export interface GeminiReviewReport {
  reviewed: number;
  deleted: number;
  /** USD of storage the deletions spared (the time each cache had left). */
  savedUsd: number;
}

const model = (config: Config, c: ReviewedCache): ModelInfo => modelInfo(c.model, config.models, "gemini");
const history = (c: ReviewedCache) => ({ seen: c.seen, firstSeen: c.firstSeen });

/** When the next review is due: the earliest time a live cache stops paying its storage, or null. */
export function nextGeminiReview(sql: SqlStorage, config: Config, nowMs: number): number | null {
  let next: number | null = null;
  for (const c of reviewable(sql, nowMs, REVIEW_LIMIT)) {
    const at = deletionDueAt(c, history(c), model(config, c), Math.max(nowMs, c.lastSeen));
    if (at !== null && (next === null || at < next)) next = at;
  }
  return next;
}

/**
 * Deletes at the provider each live cache of the tenant whose prefix's expected returns no longer pay the
 * storage it has left (decide/gemini-policy.ts `chooseDeletion`), with the tenant's Gemini key (`apiKey`:
 * null, no key: nothing is deleted and the caches run out) and the headers of the request that created it.
 * Each deletion is accounted as the storage it spared, negative (creation and extensions were accounted with
 * the whole period they bought), so the tenant's figures equal the provider's bill. A cache that could not be
 * deleted (no key, the provider unreachable or refusing) is marked ended all the same, without a refund: it
 * runs out at the provider, billed as accounted, and is not used again (its returns no longer pay for it),
 * and the review never comes back to it (a review due at once would wake the tracker again at once).
 */
export async function reviewGeminiCaches(
  sql: SqlStorage,
  config: Config,
  apiKey: string | null,
  nowMs: number,
): Promise<GeminiReviewReport> {
  const report: GeminiReviewReport = { reviewed: 0, deleted: 0, savedUsd: 0 };
  for (const c of reviewable(sql, nowMs, REVIEW_LIMIT)) {
    report.reviewed++;
    const info = model(config, c);
    if (!chooseDeletion(c, history(c), info, nowMs)) continue;
    ended(sql, c.name, nowMs);
    if (apiKey === null) continue;
    const headers = new Headers(c.headers);
    if (apiKey !== "") headers.set("x-goog-api-key", apiKey);
    if (config.devClock) headers.set(SIM_NOW_HEADER, String(nowMs));
    let status = 0;
    try {
      const res = await fetch(`${config.upstreams.gemini.baseUrl}/v1beta/${c.name}`, {
        method: "DELETE",
        headers,
        signal: AbortSignal.timeout(config.upstreamTimeoutMs),
      });
      status = res.status;
      await res.body?.cancel();
    } catch {
      continue;
    }
    if (status === 200) {
      const saved = storageUsd(info, c.tokens, c.expireAt - nowMs);
      insertRequest(sql, {
        requestId: `gemini-delete:${c.name}`,
        at: nowMs,
        upstream: "gemini",
        endpoint: "cached_contents.delete",
        model: c.model,
        stream: false,
        keepalive: false,
        status,
        result: "ok",
        usage: null,
        costUsd: -saved,
        costWithoutCacheUsd: 0,
        ttfbMs: 0,
        durationMs: 0,
        plan: `gemini delete=${c.tokens}`,
      });
      report.deleted++;
      report.savedUsd += saved;
    }
  }
  return report;
}

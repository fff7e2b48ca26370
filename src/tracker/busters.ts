import { type ChainSummary, diffChains } from "../prefix/diff.ts";
import type { BusterFinding, RecordRequest } from "./types.ts";

export interface RecentChain {
  at: number;
  /** Prompt tokens the provider held after that request (read + written). */
  cachedTokens: number;
  summary: ChainSummary;
}

/** Entries outlive a request by at most an hour (1h TTL); older chains cannot explain a miss. */
const WINDOW_MS = 60 * 60_000;
/** A miss counts when the request read less than this share of what the earlier one left cached. */
export const MISS_SHARE = 0.5;

/**
 * A request that read far less than a recent, near-identical request of the same lineage left cached:
 * where the two diverged (tools, system, a message; a volatile span) and the tokens and money it cost.
 * Null when nothing was missed, or when no recent chain is similar enough to blame.
 */
export function findBuster(r: RecordRequest, recent: readonly RecentChain[]): BusterFinding | null {
  const u = r.usage;
  if (!u || !r.chain || r.result !== "ok") return null;
  let best: { diff: NonNullable<ReturnType<typeof diffChains>>; prev: RecentChain } | null = null;
  for (const prev of recent) {
    if (r.at - prev.at > WINDOW_MS || prev.cachedTokens === 0) continue;
    const diff = diffChains(prev.summary, r.chain);
    if (!diff || diff.kind === "truncated" || diff.kind === "model") continue;
    // Near-identical: about as long as the earlier request, diverging inside it.
    const lengths =
      Math.abs(diff.previousLength - diff.currentLength) <= Math.max(4, diff.previousLength / 2);
    if (!lengths) continue;
    if (!best || diff.index > best.diff.index) best = { diff, prev };
  }
  if (!best) return null;
  const reachable = Math.min(best.prev.cachedTokens, u.inputTokens);
  if (u.cacheReadTokens >= reachable * MISS_SHARE) return null;
  const tokensLost = reachable - u.cacheReadTokens;
  return {
    at: r.at,
    requestId: r.requestId,
    kind: best.diff.kind,
    segment: best.diff.index,
    message: best.diff.message ?? null,
    volatile: best.diff.volatile,
    tokensLost,
    costUsd: tokensLost * r.pricing.inputPerToken * (1 - r.pricing.cacheRead),
  };
}

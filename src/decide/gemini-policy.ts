import type { ModelInfo } from "../economics/models.ts";
import { decideCreate, decideKeep, returnsPerHour } from "./gemini.ts";

/** Returns a prefix must have shown (besides the current request) before a cache is created for it. */
export const MIN_RETURNS = 2;

/** The period a creation or an extension buys: Google's default TTL. */
export const PERIOD_MS = 3_600_000;
/** A served cache is extended once less than this is left. */
export const EXTEND_BELOW_MS = PERIOD_MS / 2;
/**
 * How long the implicit cache is assumed to keep an idle prefix. Google documents no lifetime ("send
 * requests with similar prefix in a short amount of time"); 5 minutes is the simulator's reading too. With
 * returns at rate λ (Poisson), the share that comes within it, `1 − e^(−λL)`, is served implicitly anyway.
 */
export const IMPLICIT_LIFETIME_MS = 300_000;

/** Share of returns at `perHour` the implicit cache would serve anyway (they come within its lifetime). */
export function implicitShare(perHour: number): number {
  return 1 - Math.exp(-Math.max(0, perHour) * (IMPLICIT_LIFETIME_MS / 3_600_000));
}

/** How often a boundary's chain hash came back before this request (the tracker's `prefixes` row). */
export interface BoundaryHistory {
  seen: number;
  firstSeen: number;
}

/** A place a cache could end, with its estimated tokens (plan/gemini.ts `cacheBoundaries`). */
export interface Candidate {
  contents: number;
  hash: string;
  tokens: number;
}

/** USD of storing `tokens` for `ms` milliseconds. */
export function storageUsd(model: ModelInfo, tokens: number, ms: number): number {
  return (tokens * (model.storagePerMTokHour ?? 0) * Math.max(0, ms)) / 3_600_000 / 1e6;
}

/** USD a creation of `tokens` costs with the period's storage. */
export function creationUsd(model: ModelInfo, tokens: number): number {
  return (tokens * model.inputPerMTok * model.cacheWrite1h) / 1e6 + storageUsd(model, tokens, PERIOD_MS);
}

/**
 * After a request that used no explicit cache: the boundary to create a cache for, if any. From the longest
 * boundary down, the first whose expected returns (its history plus this request) pay creation and the
 * period's storage, counting as worthless what the implicit cache served this time, within the budget.
 * `scale` turns Stoker's token estimates into the provider's count.
 */
export function chooseCreation(
  candidates: readonly Candidate[],
  history: (hash: string) => BoundaryHistory | undefined,
  cacheReadTokens: number,
  scale: number,
  model: ModelInfo,
  nowMs: number,
  budgetLeftUsd: number,
): (Candidate & { estimatedTokens: number }) | null {
  for (const b of [...candidates].reverse()) {
    const h = history(b.hash);
    // One return is one gap: too little to tell a rate from chance (MIN_RETURNS before a creation).
    if (!h || h.seen < MIN_RETURNS) continue;
    const tokens = Math.round(b.tokens * scale);
    const rate = returnsPerHour(h.seen + 1, h.firstSeen, nowMs, nowMs, 0);
    const served = tokens > 0 ? Math.min(1, cacheReadTokens / tokens) : 1;
    const decision = decideCreate({
      tokens,
      model,
      returnsPerHour: rate,
      // What the implicit cache served this time, or would serve at this rate, is not the explicit cache's.
      implicitHitRate: Math.max(served, implicitShare(rate)),
      periodHours: PERIOD_MS / 3_600_000,
    });
    if (decision.action !== "create" || creationUsd(model, tokens) > budgetLeftUsd) continue;
    return { ...b, estimatedTokens: tokens };
  }
  return null;
}

/**
 * After a request a cache served: whether to extend it by a period now (a PATCH of its TTL). Only when less
 * than half a period is left, its returns still pay storage, and the extension fits the budget.
 */
export function chooseExtension(
  cache: { tokens: number; expireAt: number },
  history: BoundaryHistory | undefined,
  model: ModelInfo,
  nowMs: number,
  budgetLeftUsd: number,
): boolean {
  if (cache.expireAt - nowMs >= EXTEND_BELOW_MS) return false;
  const rate = history ? returnsPerHour(history.seen + 1, history.firstSeen, nowMs, nowMs, 0) : 0;
  const keep = decideKeep({
    tokens: cache.tokens,
    model,
    returnsPerHour: rate,
    implicitHitRate: implicitShare(rate),
    periodHours: PERIOD_MS / 3_600_000,
  });
  return (
    keep.action === "extend" &&
    storageUsd(model, cache.tokens, nowMs + PERIOD_MS - cache.expireAt) <= budgetLeftUsd
  );
}

/** A live cache as the review weighs it: its size, its expiry and its prefix's last request. */
export interface HeldCache {
  tokens: number;
  expireAt: number;
  /** The last request that held its prefix (served by it or not). */
  lastSeen: number;
}

/**
 * Mean gaps of silence that say a prefix's returns stopped: a Poisson stream at the prefix's own rate stays
 * this silent 5 % of the time (e^−3). Shorter silences say nothing of a steady stream, whose next gap does not
 * depend on the time since the last request.
 */
export const SILENT_GAPS = 3;

/**
 * Whether to delete a live cache now, before its TTL ends: its prefix's expected returns no longer pay the
 * storage left to run (`decideKeep` over the time to its expiry). The expected rate is the prefix's history up
 * to now (returns over the time since it was first seen, so it falls while nothing comes), and, once the
 * silence since its last request is SILENT_GAPS mean gaps long, no more than one return per silence so far.
 * The storage saved is what a deletion now spares: `storageUsd` of the time left; it must also beat the
 * chance of a return before the expiry times the price of creating the cache again.
 */
export function chooseDeletion(
  cache: HeldCache,
  history: BoundaryHistory | undefined,
  model: ModelInfo,
  nowMs: number,
): boolean {
  if (cache.expireAt <= nowMs) return false;
  const steady = history ? returnsPerHour(history.seen, history.firstSeen, nowMs, nowMs, 0) : 0;
  const idleH = Math.max(0, nowMs - cache.lastSeen) / 3_600_000;
  const rate = idleH * steady > SILENT_GAPS ? Math.min(steady, 1 / idleH) : steady;
  const hours = (cache.expireAt - nowMs) / 3_600_000;
  const keep = decideKeep({
    tokens: cache.tokens,
    model,
    returnsPerHour: rate,
    implicitHitRate: implicitShare(rate),
    periodHours: hours,
  });
  // A return before the expiry would have Stoker create the cache again, at the input price of its tokens.
  const recreateUsd = (1 - Math.exp(-rate * hours)) * (model.inputPerMTok / 1e6) * cache.tokens;
  return keep.action === "delete" && keep.deltaUsd > recreateUsd;
}

/** Reviews closer than this to the expiry are not scheduled: little storage is left to spare. */
export const REVIEW_MIN_LEFT_MS = 60_000;

/**
 * The first time from `fromMs` at which `chooseDeletion` says delete, to the second, when no new request
 * comes; null when the cache runs out (or is within REVIEW_MIN_LEFT_MS of it) first. With no new request the
 * expected rate only falls; the value of keeping rises with it until the implicit cache's share stops
 * mattering and falls after, so once `fromMs` is not itself due the answer is the edge of one interval,
 * found by bisection.
 */
export function deletionDueAt(
  cache: HeldCache,
  history: BoundaryHistory | undefined,
  model: ModelInfo,
  fromMs: number,
): number | null {
  const last = cache.expireAt - REVIEW_MIN_LEFT_MS;
  if (last <= fromMs) return null;
  if (chooseDeletion(cache, history, model, fromMs)) return fromMs;
  if (!chooseDeletion(cache, history, model, last)) return null;
  let lo = fromMs;
  let hi = last;
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2);
    if (chooseDeletion(cache, history, model, mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

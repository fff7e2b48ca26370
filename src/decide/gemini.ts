import type { ModelInfo } from "../economics/models.ts";

/**
 * Gemini explicit caches as rent-or-buy. Per cached token over a period of T hours, with `c` the input price,
 * `r` the cached-read multiplier, `w` the creation multiplier, `s` the storage price per token-hour, `λ` the
 * expected returns per hour and `q` the share of returns the implicit cache would have served anyway:
 *
 * - implicit only:  λT · (q·r + (1 − q)) · c
 * - explicit cache: w·c (creation, once) + s·T + λT · r · c
 *
 * Creating pays when  w·c + s·T < λT · (1 − q)(1 − r) · c; keeping a cache one more period (creation sunk)
 * pays when  s < λ · (1 − q)(1 − r) · c. Both are per token, so the prefix's size only decides whether it
 * reaches the model's minimum. The same function serves the worker and the benchmarks.
 */
export interface ExplicitCacheInput {
  /** Tokens the cache would hold (the request's prefix through the cached contents). */
  tokens: number;
  model: ModelInfo;
  /** Expected returns of this prefix per hour, as the tracker estimates them. */
  returnsPerHour: number;
  /** Share of returns the implicit cache serves without an explicit one (measured per family; 0 when unknown). */
  implicitHitRate: number;
  /** The period a creation or an extension buys, in hours (the TTL Stoker sets). */
  periodHours: number;
}

export type ExplicitCacheAction = "create" | "skip";
export type KeepAction = "extend" | "delete";

export interface ExplicitCacheDecision<A extends string> {
  action: A;
  /** Expected USD per period with the cache minus without it (negative: the cache saves money). */
  deltaUsd: number;
  /** Why, for logs and the plan header. */
  reason: "below-minimum" | "no-storage-price" | "pays" | "does-not-pay";
}

/** USD per token of each price. */
function rates(m: ModelInfo) {
  const c = m.inputPerMTok / 1e6;
  return { c, r: m.cacheRead, w: m.cacheWrite1h, s: (m.storagePerMTokHour ?? Number.NaN) / 1e6 };
}

function clamp01(v: number): number {
  return Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
}

/** Whether to create an explicit cache for a prefix now. */
export function decideCreate(i: ExplicitCacheInput): ExplicitCacheDecision<ExplicitCacheAction> {
  const { c, r, w, s } = rates(i.model);
  if (i.model.cacheStyle !== "gemini" || !Number.isFinite(s))
    return { action: "skip", deltaUsd: 0, reason: "no-storage-price" };
  if (i.tokens < i.model.minCacheableTokens) return { action: "skip", deltaUsd: 0, reason: "below-minimum" };
  const lambdaT = Math.max(0, i.returnsPerHour) * Math.max(0, i.periodHours);
  const q = clamp01(i.implicitHitRate);
  const perToken = w * c + s * i.periodHours - lambdaT * (1 - q) * (1 - r) * c;
  const deltaUsd = perToken * i.tokens;
  return deltaUsd < 0
    ? { action: "create", deltaUsd, reason: "pays" }
    : { action: "skip", deltaUsd, reason: "does-not-pay" };
}

/** Whether to extend a live cache by one more period (a PATCH of its TTL) or delete it. */
export function decideKeep(i: ExplicitCacheInput): ExplicitCacheDecision<KeepAction> {
  const { c, r, s } = rates(i.model);
  if (!Number.isFinite(s)) return { action: "delete", deltaUsd: 0, reason: "no-storage-price" };
  const q = clamp01(i.implicitHitRate);
  const perToken = (s - Math.max(0, i.returnsPerHour) * (1 - q) * (1 - r) * c) * Math.max(0, i.periodHours);
  const deltaUsd = perToken * i.tokens;
  return deltaUsd < 0
    ? { action: "extend", deltaUsd, reason: "pays" }
    : { action: "delete", deltaUsd, reason: "does-not-pay" };
}

/** Returns per hour at which keeping a cache breaks even (below it, delete). */
export function keepBreakEvenPerHour(model: ModelInfo, implicitHitRate = 0): number {
  const { c, r, s } = rates(model);
  const q = clamp01(implicitHitRate);
  return s / ((1 - q) * (1 - r) * c);
}

/**
 * Expected returns per hour of a prefix from its own history: `uses` requests since `firstSeenMs` (the first
 * is not a return), as the posterior mean of a Poisson rate under a Gamma prior worth `priorUses` returns at
 * `priorPerHour` (the family's rate); then decayed by the silence since the last use (a prefix idle for
 * longer than its mean gap is returning less often than its history says).
 */
export function returnsPerHour(
  uses: number,
  firstSeenMs: number,
  lastSeenMs: number,
  nowMs: number,
  priorPerHour: number,
  priorUses = 2,
): number {
  const hours = Math.max(1 / 60, (nowMs - firstSeenMs) / 3_600_000);
  const returns = Math.max(0, uses - 1);
  const prior = priorPerHour > 0 ? priorUses : 0;
  const priorHours = priorPerHour > 0 ? priorUses / priorPerHour : 0;
  const rate = (prior + returns) / (priorHours + hours);
  if (rate <= 0) return 0;
  const idleH = Math.max(0, (nowMs - lastSeenMs) / 3_600_000);
  return idleH > 1 / rate ? Math.min(rate, 1 / idleH) : rate;
}

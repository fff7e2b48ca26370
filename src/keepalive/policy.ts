import { TTL_MS, type WriteTtl, writePremium } from "../economics/breakEven.ts";
import type { ModelInfo } from "../economics/models.ts";
import type { GapSummary } from "../plan/types.ts";
import { emptyOwn, type FamilyGaps, type GapHistory, WINDOWS } from "./gaps.ts";
import { returnDistribution } from "./hazard.ts";
import type { KeepaliveSettings } from "./settings.ts";
import { type HoldTerms, holdValue, nextWithin } from "./value.ts";

/**
 * The two cache decisions Stoker makes per prefix, learned from its own gaps and its family's:
 * admission (write this prefix, and for how long?) and keepalive (ping this entry before it lapses?).
 * Both weigh the same thing, the value of holding an entry (value.ts), against what it costs: the write
 * premium, or one cache read per ping. Pure: no I/O, no clock; every input is an argument.
 */

/** An entry about to lapse, as the tracker describes it to the keepalive sweep. */
export interface PingCandidate {
  /** Prompt tokens a ping reads (the whole prefix up to the entry's breakpoint). */
  tokens: number;
  ttl: WriteTtl;
  /** Start of the last real request that read or wrote the entry (pings do not count). */
  lastUseMs: number;
  /** Pings sent since that request. */
  pingsSoFar: number;
  gaps: GapHistory;
}

export type PingReason =
  | "disabled"
  | "below-minimum"
  | "max-pings"
  | "break-even"
  | "horizon"
  | "budget"
  | "pays"
  | "does-not-pay";

export interface PingDecision {
  ping: boolean;
  reason: PingReason;
  /** USD the ping is expected to gain (negative: to lose), counting the pings it makes possible later. */
  expectedValue: number;
  /** Chance that the next real request lands in the window this ping covers. */
  pNext: number;
}

/** What a request that finds an entry saves against one that must rewrite it, per token. */
export function lapseCost(model: ModelInfo, ttl: WriteTtl): number {
  return (ttl === "1h" ? model.cacheWrite1h : model.cacheWrite5m) - model.cacheRead;
}

/**
 * Whether to ping an entry that is about to lapse. Rent or buy: a ping costs one read; it pays when the
 * chance that the next request comes while the ping holds the entry, times the rewrite it avoids (plus the
 * value of the pings it enables later), beats that read. Hard limits come first: the tenant's settings, the
 * daily budget, and the break-even cap (never spend more on pings for one idle period than the rewrite).
 * `shortTtlMs` is the deploy's 5m TTL where it is configured shorter: a ping then holds the entry that long,
 * and the gap windows are that wide (the histories are counted in the same windows).
 */
export function decidePing(
  entry: PingCandidate,
  nowMs: number,
  model: ModelInfo,
  settings: KeepaliveSettings,
  budget?: { remainingUsd: number },
  shortTtlMs: number = TTL_MS["5m"],
): PingDecision {
  const usdPerToken = model.inputPerMTok / 1e6;
  const saving = lapseCost(model, entry.ttl);
  const idle = Math.max(0, nowMs - entry.lastUseMs);
  const q = returnDistribution(entry.gaps);
  const ttlMs = entry.ttl === "1h" ? TTL_MS["1h"] : shortTtlMs;
  const pNext = nextWithin(q, idle, ttlMs, shortTtlMs);
  const no = (reason: PingReason, ev = 0): PingDecision => ({
    ping: false,
    reason,
    expectedValue: ev,
    pNext,
  });
  if (!settings.enabled) return no("disabled");
  if (entry.tokens < settings.minPrefixTokens) return no("below-minimum");
  if (entry.pingsSoFar >= settings.maxPingsPerEntry) return no("max-pings");
  // Deterministic rent-or-buy guard: after floor(saving / read) pings the rewrite would have been cheaper.
  const breakEven = Math.floor(saving / model.cacheRead + 1e-9);
  if (entry.pingsSoFar >= breakEven) return no("break-even");
  if (idle >= settings.maxHorizonMs) return no("horizon");
  const terms: HoldTerms = {
    q,
    ttlMs,
    saving,
    pingCost: model.cacheRead,
    horizonMs: settings.maxHorizonMs,
    windowMs: shortTtlMs,
  };
  const pingsLeft = Math.min(settings.maxPingsPerEntry, breakEven) - entry.pingsSoFar - 1;
  const perToken = holdValue(terms, idle, pingsLeft) - model.cacheRead;
  const expectedValue = perToken * entry.tokens * usdPerToken;
  if (perToken <= 0) return no("does-not-pay", expectedValue);
  if (budget && model.cacheRead * entry.tokens * usdPerToken > budget.remainingUsd)
    return no("budget", expectedValue);
  return { ping: true, reason: "pays", expectedValue, pNext };
}

/**
 * A write must be expected to gain this much per token (a fraction of the base price) before it is made.
 * The learned chances are estimates, and the writes they put just above break-even are the ones most
 * likely to be there by error (on the Mooncake replay, first-sight blocks sit right at the 5m break-even);
 * a small margin skips those coin flips (bench/economics: 0.8727 -> 0.8718 of no caching, 0.886 -> 0.885
 * without pings).
 */
export const ADMIT_MARGIN = 0.02;

/** A prefix a request could write, as the planner sees it. */
export interface AdmissionInput {
  /** Tokens the write would add: the part of the prefix not already cached. */
  writeTokens: number;
  /** Tokens through the breakpoint: below the model's minimum nothing is cached. */
  prefixTokens: number;
  /** TTL of the cached part before it, if any: a 1h entry cannot follow a 5m one in a request. */
  cachedTtl: WriteTtl | null;
  gaps: GapHistory;
}

export interface AdmissionOptions {
  keepalive: KeepaliveSettings;
  /** The tenant allows 1h writes. */
  allow1h: boolean;
}

export interface AdmissionDecision {
  /** The write to ask for, or null: send these tokens uncached. */
  write: WriteTtl | null;
  /** USD the chosen option is expected to gain over not writing (0 when not writing). */
  expectedValue: number;
  /** Expected USD gain of each write option over not writing (-Infinity where not offered). */
  values: Record<WriteTtl, number>;
  /** Chance that the next request containing this prefix comes within 5 minutes. */
  pNext5m: number;
  reason: "below-minimum" | "automatic" | "pays" | "does-not-pay";
}

/**
 * Whether the uncached part of a prefix is worth writing, and at which TTL. A write pays its premium now
 * and saves a rewrite (less a read) if the prefix is used again while the entry lives, the entry kept
 * alive by pings where those pay (so a 1h write wins only when the expected chain of pings costs more than
 * its extra premium). On OpenAI's automatic cache there is nothing to decide: the value is still reported.
 */
export function decideAdmission(
  input: AdmissionInput,
  model: ModelInfo,
  opts: AdmissionOptions,
): AdmissionDecision {
  const usd = input.writeTokens * (model.inputPerMTok / 1e6);
  const q = returnDistribution(input.gaps);
  const pNext5m = nextWithin(q, 0, TTL_MS["5m"]);
  const k = opts.keepalive;
  const value = (ttl: WriteTtl): number => {
    const saving = lapseCost(model, ttl);
    const pings = k.enabled ? Math.min(k.maxPingsPerEntry, Math.floor(saving / model.cacheRead + 1e-9)) : 0;
    const pingsAllowed = input.prefixTokens >= k.minPrefixTokens ? pings : 0;
    const terms: HoldTerms = {
      q,
      ttlMs: TTL_MS[ttl],
      saving,
      pingCost: model.cacheRead,
      horizonMs: k.maxHorizonMs,
    };
    return (holdValue(terms, 0, pingsAllowed) - writePremium(model, ttl)) * usd;
  };
  const offers1h = opts.allow1h && input.cachedTtl !== "5m" && model.cacheStyle === "anthropic";
  const values: Record<WriteTtl, number> = {
    "5m": value("5m"),
    "1h": offers1h ? value("1h") : Number.NEGATIVE_INFINITY,
  };
  if (input.prefixTokens < model.minCacheableTokens) {
    return { write: null, expectedValue: 0, values, pNext5m, reason: "below-minimum" };
  }
  if (model.cacheStyle === "openai-implicit") {
    return { write: "5m", expectedValue: values["5m"], values, pNext5m, reason: "automatic" };
  }
  const best: WriteTtl = values["1h"] > values["5m"] ? "1h" : "5m";
  if (values[best] <= ADMIT_MARGIN * usd)
    return { write: null, expectedValue: 0, values, pNext5m, reason: "does-not-pay" };
  return { write: best, expectedValue: values[best], values, pNext5m, reason: "pays" };
}

/**
 * Where to put the write among a request's uncached positions, in prompt order (each with the tokens it
 * adds after the previous one): the end of the leading run with the largest summed value, and one TTL for
 * it (a deeper prefix is used at most as often as the ones it extends, so value falls along the chain).
 * Returns the number of positions to write (0: none) and their expected value net of the admission margin.
 */
export function chooseWrite(
  positions: readonly AdmissionInput[],
  model: ModelInfo,
  opts: AdmissionOptions,
): { count: number; ttl: WriteTtl; expectedValue: number } {
  // OpenAI's automatic cache writes everything: nothing to choose.
  if (model.cacheStyle === "openai-implicit") {
    const total = positions.reduce((a, p) => a + decideAdmission(p, model, opts).values["5m"], 0);
    return { count: positions.length, ttl: "5m", expectedValue: total };
  }
  const ttls: readonly WriteTtl[] = ["5m", "1h"];
  const sum = [0, 0];
  const best = [0, 0];
  const count = [0, 0];
  positions.forEach((p, i) => {
    const d = decideAdmission(p, model, opts);
    const margin = ADMIT_MARGIN * p.writeTokens * (model.inputPerMTok / 1e6);
    // A position below the minimum cannot end a write, but its tokens count towards a deeper one.
    const canEnd = d.reason !== "below-minimum";
    ttls.forEach((ttl, k) => {
      sum[k] = (sum[k] as number) + d.values[ttl] - margin;
      if (canEnd && (sum[k] as number) > (best[k] as number)) {
        best[k] = sum[k] as number;
        count[k] = i + 1;
      }
    });
  });
  const k = (best[1] as number) > (best[0] as number) ? 1 : 0;
  return { count: count[k] as number, ttl: ttls[k] as WriteTtl, expectedValue: best[k] as number };
}

/**
 * How deep to ping an entry, given its positions in prompt order (a ping may read a shorter prefix than the
 * entry's): the leading run of positions whose own decision is to ping. Returns the count (0: let it lapse)
 * and the decision of the deepest position pinged, or of the first one refused.
 */
export function choosePingDepth(
  positions: readonly PingCandidate[],
  nowMs: number,
  model: ModelInfo,
  settings: KeepaliveSettings,
  budget?: { remainingUsd: number },
): { count: number; decision: PingDecision | null } {
  let last: PingDecision | null = null;
  let count = 0;
  for (const p of positions) {
    const d = decidePing(p, nowMs, model, settings, budget);
    last = d;
    if (!d.ping) break;
    count++;
  }
  return { count, decision: last };
}

/**
 * A prefix's history from what the tracker has today: its `seen` (plus the request being planned, when
 * there is one), its conversation's turns when known, and, until it stores the per-window histogram, its gap
 * summary, with the gaps between 5 minutes and an hour spread evenly over those windows.
 */
export function historyOf(
  state: { seen: number; gaps?: GapSummary },
  family: FamilyGaps | null,
  extra: { turns?: number; own?: ArrayLike<number>; includeCurrent?: boolean } = {},
): GapHistory {
  const uses = state.seen + (extra.includeCurrent === false ? 0 : 1);
  const turns = extra.turns ?? uses;
  if (extra.own) return { uses, turns, own: extra.own, family };
  const g = state.gaps;
  const hist = emptyOwn();
  if (g && g.count > 0) {
    hist[0] = g.within5m;
    const mid = Math.max(0, g.within1h - g.within5m);
    for (let j = 1; j < WINDOWS; j++) hist[j] = mid / (WINDOWS - 1);
    hist[WINDOWS] = Math.max(0, g.count - g.within1h);
  }
  return { uses, turns, own: hist, family };
}

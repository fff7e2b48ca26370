import { TTL_MS, type WriteTtl } from "../economics/breakEven.ts";
import type { ModelInfo } from "../economics/models.ts";
import type { GapHistory } from "./gaps.ts";
import { firstWindowShape, returnDistribution } from "./hazard.ts";
import { expectedPingCost, type HoldTerms, holdValue, nextWithin } from "./hold-value.ts";
import type { KeepaliveSettings } from "./keepalive-settings.ts";

/**
 * Keepalive decisions: ping an entry before it lapses, or let it go. Rent or buy: the value of holding an
 * entry (decide/hold-value.ts) against one cache read per ping. Pure: no I/O, no clock; every input is an
 * argument. The tracker's sweep and the economics replay both call `decideKeepalive`.
 */

/** An entry about to lapse, as the tracker describes it to the keepalive sweep. */
export interface PingCandidate {
  /** Prompt tokens a ping reads (the whole prefix up to the entry's breakpoint). */
  tokens: number;
  /** Tokens a lapse would lose: beyond an entry that outlives this one (a 1h head). Default: all of them. */
  exposedTokens?: number;
  ttl: WriteTtl;
  /** Start of the last real request that read or wrote the entry (pings do not count). */
  lastUseMs: number;
  /** Pings sent since that request. */
  pingsSoFar: number;
  gaps: GapHistory;
  /** Chance that a ping finds the entry (the tenant's ping record for the provider, `readChance`); default 1. */
  readChance?: number;
  /** When the entry lapses without this ping (default: now). A return before then finds it anyway. */
  lapseMs?: number;
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
 * value of the pings it enables later), beats that read. A ping holds the entry only if it finds it
 * (`readChance`, learned per tenant and provider); one that does not pays the prompt as a write. Hard limits come first: the tenant's settings, the
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
  // Per token of the prefix a ping reads: a lapse loses only the exposed share (a 1h head under it is kept).
  const share =
    entry.tokens > 0 ? Math.min(Math.max((entry.exposedTokens ?? entry.tokens) / entry.tokens, 0), 1) : 1;
  const saving = lapseCost(model, entry.ttl) * share;
  const idle = Math.max(0, nowMs - entry.lastUseMs);
  const q = returnDistribution(entry.gaps);
  const first = firstWindowShape(entry.gaps);
  const ttlMs = entry.ttl === "1h" ? TTL_MS["1h"] : shortTtlMs;
  const pNext = nextWithin(q, idle, ttlMs, shortTtlMs, first);
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
  const readChance = entry.readChance ?? 1;
  const terms: HoldTerms = {
    q,
    ttlMs,
    saving,
    pingCost: model.cacheRead,
    horizonMs: settings.maxHorizonMs,
    windowMs: shortTtlMs,
    readChance,
    // A ping that finds nothing pays the exposed share as a fresh write and reads the rest.
    missCost:
      share * (entry.ttl === "1h" ? model.cacheWrite1h : model.cacheWrite5m) + (1 - share) * model.cacheRead,
    first,
  };
  const pingsLeft = Math.min(settings.maxPingsPerEntry, breakEven) - entry.pingsSoFar - 1;
  // A return before the lapse finds the entry without the ping: only what the ping holds beyond it counts.
  const slack = Math.max(0, (entry.lapseMs ?? nowMs) - nowMs);
  const anyway = slack > 0 ? nextWithin(q, idle, slack, shortTtlMs, first) : 0;
  const perToken = readChance * holdValue(terms, idle, pingsLeft) - expectedPingCost(terms) - anyway * saving;
  const expectedValue = perToken * entry.tokens * usdPerToken;
  if (perToken <= 0) return no("does-not-pay", expectedValue);
  if (budget && model.cacheRead * entry.tokens * usdPerToken > budget.remainingUsd)
    return no("budget", expectedValue);
  return { ping: true, reason: "pays", expectedValue, pNext };
}

/** A keepalive row as the tracker holds it: one per conversation, at its deepest kept entry. */
export interface KeptEntry {
  tokens: number;
  exposedTokens?: number;
  ttl: WriteTtl;
  lastUseMs: number;
  pingsSoFar: number;
  readChance?: number;
  lapseMs?: number;
}

/**
 * The whole keepalive decision for one due entry: second sight first (until one conversation of the family
 * has come back, nothing says this one will), then `decidePing` within what is left of today's budget.
 */
export function decideKeepalive(
  entry: KeptEntry,
  gaps: GapHistory,
  nowMs: number,
  model: ModelInfo,
  settings: KeepaliveSettings,
  spentTodayUsd: number,
  shortTtlMs: number = TTL_MS["5m"],
): PingDecision | { ping: false; reason: "first-sight"; expectedValue: 0; pNext: 0 } {
  const familyBack = gaps.familyBack ?? gaps.family?.returns.some((n) => n > 0) ?? false;
  if (gaps.turns <= 1 && !familyBack)
    return { ping: false, reason: "first-sight", expectedValue: 0, pNext: 0 };
  const budget = { remainingUsd: settings.maxUsdPerDay - spentTodayUsd };
  return decidePing({ ...entry, gaps }, nowMs, model, settings, budget, shortTtlMs);
}

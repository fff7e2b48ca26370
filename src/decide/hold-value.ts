import { WINDOW_MS, WINDOWS } from "./gaps.ts";

/**
 * Chance that the next request has come by idle time `t`: the distribution spread evenly inside each window,
 * but inside the first as `first` says (shares of its returns per equal part, see `firstWindowShape`; evenly
 * when absent).
 */
export function cumulative(
  q: readonly number[],
  t: number,
  windowMs: number = WINDOW_MS,
  first?: readonly number[],
): number {
  if (t <= 0) return 0;
  const x = t / windowMs;
  if (x < 1 && first && first.length > 0) return (q[0] ?? 0) * shareBy(first, x);
  const whole = Math.min(Math.floor(x), WINDOWS);
  let f = 0;
  for (let j = 0; j < whole; j++) f += q[j] ?? 0;
  if (whole < WINDOWS) f += (q[whole] ?? 0) * (x - whole);
  return f;
}

/** Of a window whose parts hold `parts` of its mass, the share by fraction `x` of it (evenly inside a part). */
function shareBy(parts: readonly number[], x: number): number {
  const y = x * parts.length;
  const k = Math.floor(y);
  let f = 0;
  for (let i = 0; i < k; i++) f += parts[i] ?? 0;
  return f + (parts[k] ?? 0) * (y - k);
}

/** The terms of one hold-or-let-lapse problem, per token and as fractions of the base input price. */
export interface HoldTerms {
  /** Return distribution over idle windows (see hazard.ts). */
  q: readonly number[];
  /** TTL of the entry: how long one ping (or the write) keeps it. */
  ttlMs: number;
  /** What a request that finds the entry saves against one that finds it gone (rewrite minus read). */
  saving: number;
  /** What one ping costs (a cache read). */
  pingCost: number;
  /** No ping is sent at or after this idle time. */
  horizonMs: number;
  /** Width of the windows `q` is counted in (default WINDOW_MS; the configured TTL where it is shorter). */
  windowMs?: number;
  /** Chance that a ping finds the entry (default 1); a ping that does not keeps nothing. */
  readChance?: number;
  /** What a ping that finds nothing costs (it pays the prompt as a write); only read when `readChance` < 1. */
  missCost?: number;
  /** Where inside the first window its returns come (see `cumulative`); evenly when absent. */
  first?: readonly number[];
}

/** What one ping is expected to cost, per token: a read when it finds the entry, `missCost` when not. */
export function expectedPingCost(terms: HoldTerms): number {
  const r = terms.readChance ?? 1;
  return r * terms.pingCost + (1 - r) * (terms.missCost ?? terms.pingCost);
}

/**
 * Expected value, per token, of an entry that is cached for the TTL from idle time `t` on, when each later
 * lapse is met by the better of "ping" and "let it go" (at most `pingsLeft` more pings): the rent-or-buy
 * recursion V(t) = π·saving + (1 − π)·max(0, V(t + TTL) − pingCost), with π the chance that the next request
 * lands in (t, t + TTL] given none came by t. A later ping holds the entry only with `readChance`, and costs
 * `expectedPingCost`.
 */
export function holdValue(terms: HoldTerms, t: number, pingsLeft: number): number {
  const { q, ttlMs, saving, horizonMs, first } = terms;
  const w = terms.windowMs ?? WINDOW_MS;
  const by = cumulative(q, t, w, first);
  const survive = 1 - by;
  if (survive <= 1e-9) return 0;
  const pi = Math.min(1, Math.max(0, (cumulative(q, t + ttlMs, w, first) - by) / survive));
  const next = t + ttlMs;
  const r = terms.readChance ?? 1;
  const later =
    pingsLeft > 0 && next < horizonMs
      ? Math.max(0, r * holdValue(terms, next, pingsLeft - 1) - expectedPingCost(terms))
      : 0;
  return pi * saving + (1 - pi) * later;
}

/** The chance that the next request lands in (t, t + span] given none came by t. */
export function nextWithin(
  q: readonly number[],
  t: number,
  span: number,
  windowMs: number = WINDOW_MS,
  first?: readonly number[],
): number {
  const by = cumulative(q, t, windowMs, first);
  const survive = 1 - by;
  return survive <= 1e-9 ? 0 : Math.max(0, (cumulative(q, t + span, windowMs, first) - by) / survive);
}

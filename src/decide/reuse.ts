import { TTL_MS } from "../economics/breakEven.ts";
import { headPriorQ, weighedByRecurrence, withOwnGap } from "./hazard.ts";
import type { Outlook, PrefixState } from "./types.ts";

/**
 * The chance that a prefix is used again within each TTL, and whether one read exhausts it (a conversation
 * tail is superseded by the next turn's longer prefix). `windows`, where known, is the chance of the next use
 * in each 5-minute idle window of the hour: what the choice between 5m, 5m with pings and 1h reads.
 */
export interface Reuse {
  p5m: number;
  p1h: number;
  once: boolean;
  windows?: readonly number[];
  /**
   * For an entry used again and again: the chance that, written for 5m, it lapses while still in use within
   * the hour, where a rate gives it (a head seen for the first time); else `hourOverFive` reads it from the
   * windows' chances.
   */
  lapse?: number;
}

/**
 * Priors for what the tracker has not learned yet (no outlook: a tracker that has not answered), named so
 * they can be argued with. Provenance: the first half of the Mooncake conversation trace (training half,
 * bench/economics/fit.ts), not the half the report shows.
 * - A head (tools + system): the heads prior the tracker's outlook starts from (`HEAD_PRIOR_H`, fitted on the
 *   training data's heads by `fit.ts --heads`), so a plan made before the tracker answers matches one made
 *   after.
 * - A conversation that already has an assistant turn is being continued.
 * - A first request's own tail is rarely sent again: kept below the 0.28 break-even, so it is not written.
 */
export const PRIORS = {
  head: reuseFromWindows(headPriorQ(), false),
  continuingTail: { p5m: 0.7, p1h: 0.85, once: true },
  firstTurnTail: { p5m: 0.2, p1h: 0.25, once: true },
} as const satisfies Record<string, Reuse>;

// Gap shares when a prefix recurs (Mooncake conversation trace), used as a one-observation prior.
const GAP_PRIOR = { within5m: 0.786, within1h: 0.99 };

/**
 * Lower bounds (prompt tokens) of the classes of a request's new tokens: beyond the longest prefix known and
 * beyond its head.
 */
export const NEW_TOKEN_CLASSES: readonly number[] = [0, 1024, 4096, 16384];

/**
 * How a request's new tokens move the chance that its prompt is sent again, per class of `NEW_TOKEN_CLASSES`,
 * relative to the tenant's level: a request that adds a long document is followed less often than one that
 * adds a question. Fitted by `node bench/economics/fit-sizes.ts` on the training data only (the Mooncake
 * training half and the synthetic workloads' training seeds), stratified by workload.
 */
export interface NewTokenEffect {
  /** For a new tail, relative to what the tenant's tables learn for its conversation (all requests). */
  readonly tail: readonly number[];
  /**
   * For the history of a continued conversation (a position sent before), relative to its own count, which
   * knows nothing of the turn (continued requests only): on the Mooncake training half, 7 % of continued
   * requests that add 4K tokens or more are followed within 5 minutes, 40 % of those that add less.
   */
  readonly history: readonly number[];
}

export const NEW_TOKEN_EFFECT: NewTokenEffect = {
  tail: [1.04, 1.04, 0.72, 0.67],
  history: [1.02, 1.02, 0.25, 0.24],
};

/** The class of `NEW_TOKEN_CLASSES` a request's new tokens fall in. */
export function newTokenClass(newTokens: number): number {
  let c = 0;
  for (let i = 1; i < NEW_TOKEN_CLASSES.length; i++) if (newTokens >= (NEW_TOKEN_CLASSES[i] as number)) c = i;
  return c;
}

/** `reuse` with its chances of coming back scaled by `f` (at most certain). */
export function scaledReuse(reuse: Reuse, f: number): Reuse {
  if (f === 1) return reuse;
  const windows = reuse.windows?.map((q) => q * f);
  const total = windows ? windows.reduce((a, b) => a + b, 0) : 0;
  const cap = total > 1 ? 1 / total : 1;
  const out: Reuse = {
    p5m: Math.min(1, reuse.p5m * f * (windows ? cap : 1)),
    p1h: Math.min(1, reuse.p1h * f * (windows ? cap : 1)),
    once: reuse.once,
  };
  if (windows) out.windows = windows.map((q) => q * cap);
  return out;
}

/** Reuse of a prefix the tracker has seen: how often it recurs, and how its gaps fall. */
export function reuseFromState(state: PrefixState, once: boolean): Reuse {
  const again = state.seen / (state.seen + 1);
  const g = state.gaps;
  const n = g?.count ?? 0;
  const share5m = ((g?.within5m ?? 0) + GAP_PRIOR.within5m) / (n + 1);
  const share1h = ((g?.within1h ?? 0) + GAP_PRIOR.within1h) / (n + 1);
  return { p5m: again * share5m, p1h: again * share1h, once };
}

/** Reuse from a learned return distribution over the hour's 5-minute windows. */
export function reuseFromWindows(windows: readonly number[], once: boolean): Reuse {
  const p1h = Math.min(
    1,
    windows.reduce((a, b) => a + b, 0),
  );
  return { p5m: windows[0] ?? 0, p1h, once, windows };
}

/** Reuse of a family's head from its request rate (Poisson arrivals). */
export function reuseFromRate(ratePerMin: number): Reuse {
  const perMs = Math.max(ratePerMin, 0) / 60_000;
  return { p5m: 1 - Math.exp(-perMs * TTL_MS["5m"]), p1h: 1 - Math.exp(-perMs * TTL_MS["1h"]), once: false };
}

/** The more optimistic of two estimates, field by field (either signal is evidence of reuse). */
export function either(a: Reuse, b: Reuse): Reuse {
  const out: Reuse = { p5m: Math.max(a.p5m, b.p5m), p1h: Math.max(a.p1h, b.p1h), once: a.once && b.once };
  const from = a.p5m >= b.p5m ? a : b;
  if (from.windows) out.windows = from.windows;
  if (from.lapse !== undefined) out.lapse = from.lapse;
  return out;
}

/** What a request's positions are worth keeping: the estimates every planner asks for. */
export const reuseOf = {
  /**
   * The stable head (tools + system): what the tenant's heads have shown (the outlook), else its own
   * history, else the prior; raised by the family's request rate. A head seen before is coming back with
   * this very request, after the idle time it shows: evidence, known before the tracker records it, that the
   * tenant's heads recur and of when this one does.
   */
  head(state: PrefixState | undefined, familyRatePerMin: number, outlook?: Outlook, nowMs?: number): Reuse {
    const back = state !== undefined && state.seen > 0;
    let learned: Reuse;
    if (outlook) {
      let q = back ? outlook.head : weighedByRecurrence(outlook.head, outlook.headsRecur);
      if (back && nowMs !== undefined && nowMs > state.lastSeenMs)
        q = withOwnGap(q, outlook.headGaps, nowMs - state.lastSeenMs, outlook.windowMs);
      learned = reuseFromWindows(q, false);
      // A new head lasts beyond its first window only if the tenant's heads recur at all.
      if (!back && outlook.headLapse !== undefined) learned.lapse = outlook.headLapse * outlook.headsRecur;
    } else learned = back ? reuseFromState(state, false) : PRIORS.head;
    return either(learned, reuseFromRate(familyRatePerMin));
  },
  /**
   * The request's own tail, read at most once (the next turn supersedes it): its own history, else when the
   * family's conversations at this turn have come back (the outlook), else the prior; a new tail scaled by
   * the tokens its request brings (`NEW_TOKEN_EFFECT`, `newTokensOf`).
   */
  tail(
    state: PrefixState | undefined,
    continues: boolean,
    outlook: Outlook | undefined,
    newTokens: number,
  ): Reuse {
    if (state && state.seen > 0) return reuseFromState(state, true);
    const learned = outlook
      ? reuseFromWindows(outlook.tail, true)
      : continues
        ? PRIORS.continuingTail
        : PRIORS.firstTurnTail;
    return scaledReuse(learned, NEW_TOKEN_EFFECT.tail[newTokenClass(newTokens)] ?? 1);
  },
  /**
   * A position seen before (undefined when it has no history): its own history, scaled by what the request
   * brings (`NEW_TOKEN_EFFECT`): the request's next turn is what would send it again, and a turn that adds a
   * long document is followed less often.
   */
  seen(state: PrefixState | undefined, newTokens: number): Reuse | undefined {
    return state && state.seen > 0
      ? scaledReuse(reuseFromState(state, false), NEW_TOKEN_EFFECT.history[newTokenClass(newTokens)] ?? 1)
      : undefined;
  },
};

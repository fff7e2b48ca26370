import { TTL_MS } from "../economics/breakEven.ts";
import type { PrefixState } from "./types.ts";

/**
 * The chance that a prefix is used again within each TTL, and whether one read exhausts it (a conversation
 * tail is superseded by the next turn's longer prefix).
 */
export interface Reuse {
  p5m: number;
  p1h: number;
  once: boolean;
}

/**
 * Priors for what the tracker has not seen, named so they can be argued with.
 * - A head (tools + system) is shared by design across the requests of an app: on first sight it is
 *   given an even chance of a read within 5 minutes, above the 0.28 a 5m write needs.
 * - A conversation that already has an assistant turn is being continued: the Mooncake trace has 78.6% of
 *   reuse gaps within 300 s and 94.6% within 600 s.
 * - A first request's own tail is rarely sent again: kept below the 0.28 break-even, so it is not written.
 */
export const PRIORS = {
  head: { p5m: 0.5, p1h: 0.6, once: false },
  continuingTail: { p5m: 0.7, p1h: 0.85, once: true },
  firstTurnTail: { p5m: 0.2, p1h: 0.25, once: true },
} as const satisfies Record<string, Reuse>;

// Gap shares when a prefix recurs (Mooncake conversation trace), used as a one-observation prior.
const GAP_PRIOR = { within5m: 0.786, within1h: 0.99 };

/** Reuse of a prefix the tracker has seen: how often it recurs, and how its gaps fall. */
export function reuseFromState(state: PrefixState, once: boolean): Reuse {
  const again = state.seen / (state.seen + 1);
  const g = state.gaps;
  const n = g?.count ?? 0;
  const share5m = ((g?.within5m ?? 0) + GAP_PRIOR.within5m) / (n + 1);
  const share1h = ((g?.within1h ?? 0) + GAP_PRIOR.within1h) / (n + 1);
  return { p5m: again * share5m, p1h: again * share1h, once };
}

/** Reuse of a family's head from its request rate (Poisson arrivals). */
export function reuseFromRate(ratePerMin: number): Reuse {
  const perMs = Math.max(ratePerMin, 0) / 60_000;
  return { p5m: 1 - Math.exp(-perMs * TTL_MS["5m"]), p1h: 1 - Math.exp(-perMs * TTL_MS["1h"]), once: false };
}

/** The more optimistic of two estimates, field by field (either signal is evidence of reuse). */
export function either(a: Reuse, b: Reuse): Reuse {
  return { p5m: Math.max(a.p5m, b.p5m), p1h: Math.max(a.p1h, b.p1h), once: a.once && b.once };
}

/** What a request's positions are worth keeping: the estimates every planner asks for. */
export const reuseOf = {
  /** The stable head (tools + system): its own history, or the prior, raised by the family's request rate. */
  head(state: PrefixState | undefined, familyRatePerMin: number): Reuse {
    return either(
      state && state.seen > 0 ? reuseFromState(state, false) : PRIORS.head,
      reuseFromRate(familyRatePerMin),
    );
  },
  /** The request's own tail: read at most once (the next turn supersedes it). */
  tail(state: PrefixState | undefined, continues: boolean): Reuse {
    if (state && state.seen > 0) return reuseFromState(state, true);
    return continues ? PRIORS.continuingTail : PRIORS.firstTurnTail;
  },
  /** A position seen before: only its own history says anything (undefined when it has none). */
  seen(state: PrefixState | undefined): Reuse | undefined {
    return state && state.seen > 0 ? reuseFromState(state, false) : undefined;
  },
};

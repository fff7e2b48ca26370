import type { Analysis } from "../prefix/types.ts";

/**
 * The tokens a request brings: beyond its head (judged by its own traffic) and beyond the longest prefix the
 * tracker knows (`known`: a position some earlier request contained). What a new tail is judged by
 * (`reuseOf.tail`).
 */
export function newTokensOf(
  a: Analysis,
  known: (i: number) => boolean,
  tokensAt: (i: number) => number,
): number {
  const last = a.segments.length - 1;
  let from = a.headEnd;
  for (let i = last; i > from; i--)
    if (known(i)) {
      from = i;
      break;
    }
  return tokensAt(last) - (from >= 0 ? tokensAt(from) : 0);
}

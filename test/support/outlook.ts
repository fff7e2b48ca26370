import type { Outlook } from "../../src/decide/types.ts";

/**
 * A tracker outlook of a tenant whose heads have come back (within 5 minutes, 90 %) and whose
 * conversations come back within 5 minutes with chance `tail5m`, from the end of the previous request.
 */
export function outlookWith(tail5m: number): Outlook {
  return {
    head: [0.9, ...new Array<number>(11).fill(0)],
    headsRecur: 1,
    headGaps: 0,
    windowMs: 300_000,
    tail: [tail5m, ...new Array<number>(11).fill(0)],
    reach: [1, 1, 1],
  };
}

import { CLASSES, type FamilyGaps, FIRST_WINDOW_BINS, WINDOWS } from "./gaps.ts";
import { headPriorHazard } from "./hazard.ts";

/**
 * How fast a tenant's heads come back, as a rate: what the choice between 5m and 1h for a head seen for the
 * first time reads. The heads table's hazards are per 5-minute window, so a head coming back within seconds
 * counts as much as one coming back after four minutes, and they say little until windows close; a rate
 * counts the time each head was at risk, so a tenant whose documents are asked about every few seconds shows
 * it within a minute. Pure: the tracker passes the heads table with its open heads counted (`#headsAt`).
 */

/** Returns of the tenant's heads within the horizon, and the time they were at risk, in windows. */
export interface HeadsExposure {
  returns: number;
  windows: number;
}

/** The heads table's returns and time at risk, pooled over its classes. */
export function headsExposure(table: FamilyGaps): HeadsExposure {
  const bins = table.firstWindow;
  const binned = bins.reduce((a, b) => a + b, 0);
  // Where in the first window returns came (each part at its middle); half the window when none came yet.
  const firstAt =
    binned > 0 ? bins.reduce((a, n, k) => a + (n * (k + 0.5)) / FIRST_WINDOW_BINS, 0) / binned : 0.5;
  let returns = 0;
  let windows = 0;
  for (let c = 0; c < CLASSES; c++)
    for (let j = 0; j < WINDOWS; j++) {
      const atRisk = table.atRisk[c * WINDOWS + j] ?? 0;
      const back = table.returns[c * WINDOWS + j] ?? 0;
      returns += back;
      // A window that closed (or is open so far) on a head counts whole (or its elapsed share, which the
      // table's open heads already carry); one a head came back in, up to the return.
      windows += Math.max(atRisk - back, 0) + back * (j === 0 ? firstAt : 0.5);
    }
  return { returns, windows };
}

/**
 * Pseudo-returns of the rate's prior, at the heads' prior first-window hazard (`headPriorHazard`, fitted on
 * the training heads, converted to a rate as if gaps were exponential: 2.2 uses per window). Not fitted: one
 * return, so a tenant's own first returns outweigh it.
 */
export const RATE_PRIOR_RETURNS = 1;
/**
 * How far one head's rate may lie from the tenant's pooled rate (the shape of the gamma spread of heads' rates,
 * at most): heads differ (a popular document and a rare one), so even a well-measured pooled rate leaves a
 * new head's own uncertain. Chosen on the training data among 2, 4, 8 and unbounded (`bench/economics/try.ts`:
 * short and bursty's training seed 0.140 at 2, 0.139 at the others; RAG 2/min 0.124 at each; the other
 * workloads, whose heads are one shared prompt, the same as without a rate): the smallest of the best.
 */
export const RATE_SPREAD = 4;

/** Points of the integral over a head's rate: a log grid from 1e-4 to 20 times the mean. */
const GRID = 96;

/**
 * The pooled rate, in uses per window, below which the rate says nothing the windows do not: heads that come
 * back after minutes show it as their windows close, and at such rates the lapse turns on whether a head's uses
 * go on at all, which the windows count and a Poisson rate does not. Not fitted: one use per window, where a
 * return within the window stops being the rule. Set on RAG at 0.1 questions a minute, development seed 402
 * (neither training nor report data): a rate of about one use per 20 minutes gave a new document no write at
 * all where the windows gave it the hour, and the run cost 3.6 % more.
 */
export const FAST_RATE = 1;

/**
 * The chance that a new head written for 5m lapses while still in use within the hour: one of its gaps falls
 * between 5 minutes and the hour (later, the uses have ended either way), after the short gaps before it, for
 * a head whose uses come as a Poisson process at a rate drawn from a gamma of the tenant's pooled rate
 * (`RATE_PRIOR_RETURNS` pseudo-returns at the prior; shape capped at `RATE_SPREAD`). What a 1h write buys
 * (`hourOverFive`), where the windows' hazards could only say it once the windows close; undefined below
 * `FAST_RATE`, where they can.
 */
export function newHeadLapse(e: HeadsExposure): number | undefined {
  const priorRate = -Math.log(Math.min(Math.max(1 - headPriorHazard(), 1e-6), 1));
  const a = RATE_PRIOR_RETURNS + Math.max(e.returns, 0);
  const mean = a / (RATE_PRIOR_RETURNS / Math.max(priorRate, 1e-6) + Math.max(e.windows, 0));
  if (mean < FAST_RATE) return undefined;
  const shape = Math.min(a, RATE_SPREAD);
  let weight = 0;
  let sum = 0;
  for (let i = 0; i < GRID; i++) {
    const rate = mean * Math.exp(Math.log(1e-4) + (i / (GRID - 1)) * Math.log(20 / 1e-4));
    // Gamma density times the grid step d(rate) = rate·d(log rate), in logs.
    const w = Math.exp(shape * Math.log(rate / mean) - (shape * rate) / mean);
    weight += w;
    sum += w * lapseAt(rate);
  }
  return weight > 0 ? Math.min(Math.max(sum / weight, 0), 1) : 1;
}

/** The lapse chance at a known rate (uses per window): one of the hour's gaps is long, after short ones. */
function lapseAt(rate: number): number {
  const long = Math.exp(-rate);
  if (long < 1e-12) return 0;
  const between = long - Math.exp(-WINDOWS * rate);
  const gaps = Math.max(1, WINDOWS * rate);
  return (between * (1 - (1 - long) ** gaps)) / long;
}

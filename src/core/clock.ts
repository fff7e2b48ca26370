/**
 * The one clock of the worker, its Durable Objects, the cron and (through the `x-sim-now` header) the
 * simulator. In a deploy it is `Date.now()`. In local development and tests with `DEV_CLOCK=1` (which a
 * deploy refuses, see config.ts), `POST /__dev/clock` moves it forward, so hours of traffic run in seconds.
 * The offset is per isolate: locally the worker and its Durable Objects share one.
 */
let offsetMs = 0;
/** Where a frozen clock stands (tests that compare to the millisecond); null while it runs. */
let frozenAt: number | null = null;

/** Milliseconds since the epoch, on the shared clock. */
export function now(): number {
  return frozenAt ?? Date.now() + offsetMs;
}

/** How far the shared clock runs ahead of the wall clock (0 in a deploy). */
export function clockOffset(): number {
  return frozenAt === null ? offsetMs : frozenAt - Date.now();
}

/** Moves the clock forward (never back); returns the new time. Only the dev route calls it. */
export function advanceClock(ms: number): number {
  if (Number.isFinite(ms) && ms > 0) {
    if (frozenAt === null) offsetMs += ms;
    else frozenAt += ms;
  }
  return now();
}

/** Stops the clock where it is (it then moves only by `advanceClock`), or starts it again from there. */
export function freezeClock(frozen: boolean): number {
  if (frozen && frozenAt === null) frozenAt = now();
  if (!frozen && frozenAt !== null) {
    offsetMs = frozenAt - Date.now();
    frozenAt = null;
  }
  return now();
}

/** The header that tells the simulator the worker's time (sent only with DEV_CLOCK on). */
export const SIM_NOW_HEADER = "x-sim-now";

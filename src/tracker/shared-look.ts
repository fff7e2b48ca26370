/**
 * Whether a request looks for an answer another isolate shared (shared-answers.ts): a look that finds nothing
 * costs the request up to SHARED_ANSWERS_WAIT_MS, so a tenant whose looks keep missing at this location (all
 * its conversations' turns land on this isolate, or no isolate near it shares) stops paying for each one. After
 * `MISSES_BEFORE_SPARING` misses in a row, only one request in `LOOK_ONE_IN` looks; a hit (even one that came
 * after its deadline) makes every request look again. Per isolate and tenant; counts only, no content.
 */

/**
 * Misses in a row before the looks are spared. Chosen, not fitted: eight looks that found nothing say the
 * location holds nothing for this tenant's conversations now, for at most eight times the wait.
 */
export const MISSES_BEFORE_SPARING = 8;
/** Once spared, one request in this many still looks, so a location that starts sharing is found within as many. */
export const LOOK_ONE_IN = 8;
/** Tenants whose streaks an isolate keeps (the least recently looked-for dropped first): memory bounded by design. */
const MAX_TENANTS = 1_000;

interface Streak {
  misses: number;
  /** Requests that did not look since the last one that did. */
  spared: number;
}

const streaks = new Map<string, Streak>();

/** Whether this request of `tenantId` looks (and counts it when it does not). */
export function shouldLook(tenantId: string): boolean {
  const s = streaks.get(tenantId);
  if (!s || s.misses < MISSES_BEFORE_SPARING) return true;
  if (++s.spared < LOOK_ONE_IN) return false;
  s.spared = 0;
  return true;
}

/** A look of `tenantId` ended: found an answer, or not (nothing there, unreadable, or the cache failed). */
export function noteLook(tenantId: string, found: boolean): void {
  if (found) {
    streaks.delete(tenantId);
    return;
  }
  const s = streaks.get(tenantId) ?? { misses: 0, spared: 0 };
  s.misses++;
  streaks.delete(tenantId);
  streaks.set(tenantId, s);
  if (streaks.size > MAX_TENANTS) {
    const oldest = streaks.keys().next().value;
    if (oldest !== undefined) streaks.delete(oldest);
  }
}

import type { PrefixState } from "../plan/types.ts";
import type { Tracker } from "../tracker/tracker.ts";
import type { LookupResult, RecordRequest } from "../tracker/types.ts";
import type { Logger } from "./log.ts";

/** The tenant's tracker: one Durable Object per tenant. */
export function trackerFor(env: Env, tenantId: string): DurableObjectStub<Tracker> {
  const ns = env.TRACKER as DurableObjectNamespace<Tracker>;
  return ns.get(ns.idFromName(tenantId));
}

const EMPTY: ReadonlyMap<string, PrefixState> = new Map();

/**
 * Asks the tracker what it knows of `hashes`, waiting at most `deadlineMs`. On timeout or error the
 * request is planned without it (fail open) and the fault is logged for counting.
 */
export async function lookupWithDeadline(
  env: Env,
  tenantId: string,
  hashes: string[],
  nowMs: number,
  deadlineMs: number,
  log: Logger,
): Promise<ReadonlyMap<string, PrefixState>> {
  if (hashes.length === 0) return EMPTY;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), deadlineMs);
  });
  try {
    const answer = await Promise.race([trackerFor(env, tenantId).lookup(hashes, nowMs), timeout]);
    if (answer === "timeout") {
      log.warn("tracker.fault", { op: "lookup", fault: "timeout", deadline_ms: deadlineMs });
      return EMPTY;
    }
    if (!answer.ok) {
      log.warn("tracker.fault", { op: "lookup", fault: "rejected" });
      return EMPTY;
    }
    return new Map(Object.entries(answer.value as LookupResult));
  } catch (err) {
    log.warn("tracker.fault", { op: "lookup", fault: err instanceof Error ? err.name : "unknown" });
    return EMPTY;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** Records a request's outcome after the response; a failure is logged, never surfaced to the client. */
export async function recordSafely(
  env: Env,
  tenantId: string,
  input: RecordRequest,
  log: Logger,
): Promise<void> {
  try {
    const answer = await trackerFor(env, tenantId).record(input);
    if (!answer.ok) log.warn("tracker.fault", { op: "record", fault: "rejected" });
  } catch (err) {
    log.warn("tracker.fault", { op: "record", fault: err instanceof Error ? err.name : "unknown" });
  }
}

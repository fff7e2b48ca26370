import type { Logger } from "../core/log.ts";
import type { PlanLookup } from "../plan/context.ts";
import type { Tracker } from "../tracker/tracker.ts";
import type { LookupAnswer, RecordRequest } from "../tracker/types.ts";
import {
  type BeliefScope,
  cachedAnswer,
  forgetConversations,
  heardOf,
  learn,
  pending,
  recordStarted,
} from "./tracker-cache.ts";

/** The tenant's tracker: one Durable Object per tenant. */
export function trackerFor(env: Env, tenantId: string): DurableObjectStub<Tracker> {
  const ns = env.TRACKER as DurableObjectNamespace<Tracker>;
  return ns.get(ns.idFromName(tenantId));
}

const EMPTY: PlanLookup = { known: new Map() };

/** A lookup's answer as planning reads it. */
function toPlanLookup(a: LookupAnswer): PlanLookup {
  const out: PlanLookup = { known: new Map(Object.entries(a.states)) };
  if (a.familyRatePerMin !== undefined) out.familyRatePerMin = a.familyRatePerMin;
  if (a.calibration !== undefined) out.calibration = a.calibration;
  if (a.outlook !== undefined) out.outlook = a.outlook;
  if (a.previousMessageId !== undefined) out.previousMessageId = a.previousMessageId;
  return out;
}

/**
 * What the tracker knows of `hashes` (and, with a `scope`, of the family's rate and the model's
 * calibration), waiting at most `deadlineMs`. On timeout or error the request is planned without it (fail
 * open) and the fault is logged for counting.
 *
 * With a `scope` (the request's family and conversation), the isolate's cache of what the tracker last said
 * answers instead when it heard about the conversation within FRESH_MS (tracker-cache.ts); records of the
 * family this isolate sent and has not seen answered are waited for first, within the same deadline, since
 * their answers are what the tracker would say now. If they are not back in time, the cache's answer from
 * before them is used (what a lookup would have said a moment earlier), and the timeout is logged as a
 * lookup's would be. The answer of every lookup made goes into the cache.
 */
export async function lookupWithDeadline(
  env: Env,
  tenantId: string,
  hashes: string[],
  nowMs: number,
  deadlineMs: number,
  log: Logger,
  scope?: BeliefScope,
): Promise<PlanLookup> {
  if (hashes.length === 0) return EMPTY;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timeout: Promise<"timeout"> | undefined;
  const deadline = () => {
    timeout ??= new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), deadlineMs);
    });
    return timeout;
  };
  try {
    // Only a conversation heard of lately can be answered from the cache; for any other the wait for the
    // family's records would only delay the lookup.
    if (scope && heardOf(tenantId, scope.conversation, nowMs)) {
      const waiting = pending(tenantId, scope.family);
      if (waiting && (await Promise.race([waiting, deadline()])) === "timeout") {
        log.warn("tracker.fault", { op: "lookup", fault: "timeout", deadline_ms: deadlineMs });
        return cachedAnswer(tenantId, scope, hashes, nowMs) ?? EMPTY;
      }
      const cached = cachedAnswer(tenantId, scope, hashes, nowMs);
      if (cached) return cached;
    }
    const sentAt = Date.now();
    const asked = scope
      ? { family: scope.family, model: scope.model, conversation: scope.conversation }
      : undefined;
    const answer = await Promise.race([trackerFor(env, tenantId).lookup(hashes, nowMs, asked), deadline()]);
    if (answer === "timeout") {
      log.warn("tracker.fault", { op: "lookup", fault: "timeout", deadline_ms: deadlineMs });
      return EMPTY;
    }
    if (!answer.ok) {
      log.warn("tracker.fault", { op: "lookup", fault: "rejected" });
      return EMPTY;
    }
    const value = answer.value as LookupAnswer;
    if (scope) learn(tenantId, scope, hashes, value, sentAt);
    return toPlanLookup(value);
  } catch (err) {
    log.warn("tracker.fault", { op: "lookup", fault: err instanceof Error ? err.name : "unknown" });
    return EMPTY;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/**
 * Marks a record of `input`'s family as on its way, before it is built and sent (lookups of the family wait
 * for it); `recordSafely` settles the mark. Null for a request without a family (nothing to wait for).
 */
export function beginRecord(tenantId: string, family: string | null): (() => void) | null {
  return family === null ? null : recordStarted(tenantId, family);
}

/**
 * Records a request's outcome after the response; a failure is logged, never surfaced to the client. The
 * tracker answers with its positions' states, which this isolate keeps for the conversation's next turn.
 */
export async function recordSafely(
  env: Env,
  tenantId: string,
  input: RecordRequest,
  log: Logger,
  settle?: (() => void) | null,
): Promise<void> {
  const sentAt = Date.now();
  let heard = false;
  try {
    const answer = await trackerFor(env, tenantId).record(input);
    if (!answer.ok) log.warn("tracker.fault", { op: "record", fault: "rejected" });
    else if (answer.value.states && input.family !== null && input.conversation !== null) {
      const scope = { family: input.family, conversation: input.conversation, model: input.model };
      const hashes = input.positions.map((p) => p.hash);
      const { states, familyRatePerMin, calibration, previousMessageId, outlook } = answer.value;
      learn(
        tenantId,
        scope,
        hashes,
        { states, familyRatePerMin, calibration, previousMessageId, outlook },
        sentAt,
      );
      heard = true;
    } else heard = answer.value.states !== undefined || input.positions.length === 0;
  } catch (err) {
    log.warn("tracker.fault", { op: "record", fault: err instanceof Error ? err.name : "unknown" });
  } finally {
    // Without the tracker's answer the cache cannot know what it now holds: ask it next time.
    if (!heard) forgetConversations(tenantId);
    settle?.();
  }
}

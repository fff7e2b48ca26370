import { getConfig } from "../core/config.ts";
import { withinDeadline } from "../core/deadline.ts";
import type { Logger } from "../core/log.ts";
import type { RpcResult } from "../core/rpc.ts";
import type { PlanLookup } from "../plan/context.ts";
import {
  type BeliefScope,
  cachedAnswer,
  forgetConversations,
  heardOf,
  heldAnswer,
  learn,
} from "./client-cache.ts";
import { queueRecord } from "./record-queue.ts";
import { keepHeld, releaseShare, type ShareHold } from "./share-hold.ts";
import { type SharedAnswer, shareAnswer, sharedAnswer } from "./shared-answers.ts";
import { noteLook, shouldLook } from "./shared-look.ts";
import type { Tracker } from "./tracker.ts";
import type { LookupAnswer, RecordAnswer, RecordBatchAnswer, RecordRequest, WholeCapture } from "./types.ts";
import { MAX_RECORD_BATCH } from "./validate.ts";

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

/** Lookups in flight, per tenant and conversation: concurrent requests of one conversation ask once. */
const refreshing = new Map<string, Promise<PlanLookup | null>>();

/**
 * Asks the tracker what it knows of `hashes` in `scope` and keeps the answer in the isolate's cache
 * (client-cache.ts). Resolves with the answer as planning reads it, or null when the tracker did not answer
 * (logged as a fault); never rejects.
 */
function refresh(
  env: Env,
  tenantId: string,
  hashes: string[],
  nowMs: number,
  log: Logger,
  scope: BeliefScope,
): { answer: Promise<PlanLookup | null>; mine: boolean } {
  const key = `${tenantId}\n${scope.conversation}`;
  const running = refreshing.get(key);
  if (running) return { answer: running, mine: false };
  const sentAt = Date.now();
  const asked = { family: scope.family, model: scope.model, conversation: scope.conversation };
  const p = (async () => {
    try {
      const answer = await trackerFor(env, tenantId).lookup(hashes, nowMs, asked);
      if (!answer.ok) {
        log.warn("tracker.fault", { op: "lookup", fault: "rejected" });
        return null;
      }
      const value = answer.value as LookupAnswer;
      learn(tenantId, scope, hashes, value, sentAt);
      return toPlanLookup(value);
    } catch (err) {
      log.warn("tracker.fault", { op: "lookup", fault: err instanceof Error ? err.name : "unknown" });
      return null;
    } finally {
      refreshing.delete(key);
    }
  })();
  refreshing.set(key, p);
  return { answer: p, mine: true };
}

/** How a request's plan inputs are found (proxy.ts). */
export interface PlanLookupOptions {
  env: Env;
  tenantId: string;
  nowMs: number;
  log: Logger;
  /** Keeps the parallel lookup alive after the response (the execution context's waitUntil). */
  waitUntil: (p: Promise<unknown>) => void;
  /**
   * Only local development and tests with the dev clock (proxy.ts): how long to wait for the tracker when
   * the isolate has nothing fresh. 0 (every deploy): never wait.
   */
  awaitMs?: number;
  /**
   * How long a request that continues a conversation this isolate never heard of waits for the answer
   * another isolate shared through the location's cache (shared-answers.ts); 0 or absent: it does not look.
   */
  sharedWaitMs?: number;
}

/**
 * What a plan reads from the tracker, from what this isolate already holds: never a wait on the tracker.
 * A conversation the isolate heard of within FRESH_MS is planned from the cache (the tracker's answers and
 * this isolate's own outcomes since, client-cache.ts). Any other request is planned from what the isolate
 * holds of its positions, family and model (heldAnswer: entries past their TTL read as lapsed, positions it
 * never heard of as unknown), or without state (the stateless plan). A request that continues a conversation
 * the isolate never heard of (its earlier turns went through another isolate) first reads, for at most
 * `sharedWaitMs`, the answer that isolate shared through the location's cache (shared-answers.ts), unless
 * the tenant's looks here keep finding nothing (shared-look.ts). What
 * warms the isolate for the conversation's next turn is the request's own record: the tracker answers it
 * with the states of every position of the request, the family's rate and the model's calibration, which is
 * what a lookup would say (and more). A lookup in parallel would ask the same again, one RPC more per first
 * request, and in local development, where the tracker shares the thread, it measurably delayed the answer
 * it ran beside (bench/report/overhead.md). Only a dev-clock request that asks to wait (`awaitMs`) sends
 * one. Never rejects. The answer says whether the isolate has word of the conversation (`PlanLookup.heard`).
 */
export async function planLookup(
  o: PlanLookupOptions,
  hashes: string[],
  scope: BeliefScope,
): Promise<PlanLookup> {
  const answer = await heldOrShared(o, hashes, scope);
  return heardOf(o.tenantId, scope.conversation) ? { ...answer, heard: true } : answer;
}

async function heldOrShared(o: PlanLookupOptions, hashes: string[], scope: BeliefScope): Promise<PlanLookup> {
  if (hashes.length === 0) return EMPTY;
  const awaitMs = o.awaitMs ?? 0;
  // A dev-clock request that asks to wait is planned from the tracker's state now, as the economics replay
  // plans (the isolate's copy of a conversation's outlook dates from its last record).
  const fresh = awaitMs > 0 ? null : cachedAnswer(o.tenantId, scope, hashes, o.nowMs);
  if (fresh) return fresh;
  if (awaitMs > 0) {
    const { answer: asked, mine } = refresh(o.env, o.tenantId, hashes, o.nowMs, o.log, scope);
    // Only the request that asked keeps the lookup alive: the runtime cancels a request whose waitUntil
    // waits on another request's work alone.
    if (mine) o.waitUntil(asked);
    const answer = await withinDeadline(asked, awaitMs);
    if (answer) return answer;
  }
  if (
    (o.sharedWaitMs ?? 0) > 0 &&
    scope.continues &&
    !heardOf(o.tenantId, scope.conversation) &&
    shouldLook(o.tenantId)
  ) {
    // Learned when it comes, even past the deadline: the conversation's next turn here has it then.
    const shared = sharedAnswer(o.tenantId, scope.conversation).then((s) => {
      noteLook(o.tenantId, s !== null);
      if (s) learn(o.tenantId, scope, s.hashes, s.answer, s.at);
      return s;
    });
    o.waitUntil(shared);
    if (await withinDeadline(shared, o.sharedWaitMs ?? 0))
      return (
        cachedAnswer(o.tenantId, scope, hashes, o.nowMs) ??
        heldAnswer(o.tenantId, scope, hashes, o.nowMs) ??
        EMPTY
      );
  }
  return heldAnswer(o.tenantId, scope, hashes, o.nowMs) ?? EMPTY;
}

/** How long a batch's context waits for its answers to be shared (a cache write in the location). */
const SHARE_DEADLINE_MS = 1000;

/** Records sent to the tracker in one RPC at most (the tracker's own bound, validate.ts). */
export const RECORD_BATCH = MAX_RECORD_BATCH;
/**
 * Tries per record before it goes to the record queue (RECORD_QUEUE, record-queue.ts), which delivers it
 * once the tracker takes calls again: the isolate's tries last well under a second of backoff, the queue's
 * as long as the tracker is down.
 */
export const RECORD_ATTEMPTS = 4;
/** The first retry's delay; each next one doubles. */
const RECORD_BACKOFF_MS = 50;
/** How long one `recordMany` call may take before it counts as failed (a hung call would hold the queue). */
export const RECORD_RPC_DEADLINE_MS = 5_000;
/**
 * A batch out longer than this has lost its sender (its request's context ended, as the runtime ends a
 * `waitUntil` after about 30 s): its records go back to wait and another request's context sends them. A
 * live sender is done sooner: the call's deadline, the record queue's (record-queue.ts) and a backoff.
 */
const BATCH_LEASE_MS = 15_000;

interface QueuedRecord {
  input: RecordRequest;
  log: Logger;
  attempts: number;
  settled: boolean;
  /** The tracker answered it (it has the record), rather than the record queue taking it. */
  taken: boolean;
  /** Its answer is shared when the hold ends, not as it is heard (share-hold.ts). */
  shareHold: ShareHold | null;
}

/** One tenant's records waiting to be sent, and the batch that is out, since when. */
interface RecordQueue {
  waiting: QueuedRecord[];
  out: { batch: QueuedRecord[]; since: number } | null;
}

const queues = new Map<string, RecordQueue>();

/** Records waiting in this isolate, over all tenants (tests, the overhead benchmark). */
export function recordsQueued(): number {
  let n = 0;
  for (const q of queues.values()) n += q.waiting.length;
  return n;
}

/**
 * Records and capture bytes one tenant's queue holds in an isolate at most: beyond, while the tracker is not
 * taking them, a new record goes straight to the record queue (without its capture), so an outage at a high
 * request rate cannot fill the isolate's memory with captured requests.
 */
const MAX_WAITING_RECORDS = 256;
const MAX_WAITING_BYTES = 32_000_000;

function captureBytes(waiting: readonly QueuedRecord[]): number {
  let bytes = 0;
  for (const b of waiting) bytes += b.input.capture?.body?.length ?? 0;
  return bytes;
}

function full(q: RecordQueue): boolean {
  return q.waiting.length >= MAX_WAITING_RECORDS || captureBytes(q.waiting) >= MAX_WAITING_BYTES;
}

/**
 * Captures waiting past this go without waiting for more: a call's cost is then in its bytes, not in the call,
 * and a batch of several whole requests would be copied in one piece of the isolate's time, in the way of a
 * request (100K-token first requests' streams were 2.2 ms slower at p50 side by side when they waited).
 */
const RECORD_WAIT_BYTES = 200_000;

/** Whether the records waiting go now rather than wait for the next requests' (RECORD_BATCH_WAIT_MS). */
function goesNow(q: RecordQueue): boolean {
  return q.waiting.length >= RECORD_BATCH || captureBytes(q.waiting) >= RECORD_WAIT_BYTES;
}

/** How often a record waiting behind another request's batch looks whether it went (its own timer). */
const RECORD_POLL_MS = 10;

/** A batch's captures (whole requests, for keepalive) stay well under the RPC message limit (32 MiB). */
const RECORD_BATCH_BYTES = 8_000_000;

/** How many of the waiting records go in the next batch: at least one, within both bounds. */
function batchSize(waiting: readonly QueuedRecord[]): number {
  let bytes = 0;
  let n = 0;
  for (const b of waiting) {
    bytes += b.input.capture?.body?.length ?? 0;
    if (n > 0 && (n >= RECORD_BATCH || bytes > RECORD_BATCH_BYTES)) break;
    n++;
  }
  return n;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Records a request's outcome after the response; a failure is logged, never surfaced to the client. Records
 * are coalesced per tenant and isolate: a record waits up to `RECORD_BATCH_WAIT_MS` for the next requests'
 * to go with it (RECORD_BATCH records, or RECORD_WAIT_BYTES of captures, go at once), and while one batch is
 * out the records that arrive wait and go together in the next (one RPC for many requests, so a slow tracker
 * never queues the isolate's work behind it). A batch the tracker did not take (an RPC error or one past
 * RECORD_RPC_DEADLINE_MS, an overloaded object) is sent again with exponential backoff, up to RECORD_ATTEMPTS
 * tries, then goes to the record queue; the tracker counts a request id once, so a retry or a queued copy
 * never counts twice. The tracker answers each record with its positions' states, which this isolate keeps for
 * the conversation's next turn. Resolves when the tracker or the queue has the record (or it was lost: logged),
 * true when it was the tracker; never rejects.
 * The answer is shared with the location's other isolates as it is heard, or, with `shareHold`, kept for the
 * hold (`shareWhenReleased`).
 *
 * Each caller's own context does the waiting (its own timer) and, when no batch is out, sends the next one:
 * the Workers runtime cancels a request whose waitUntil only waits on another request's work. A batch whose
 * sender's context ended is taken back after BATCH_LEASE_MS.
 */
export async function recordSafely(
  env: Env,
  tenantId: string,
  input: RecordRequest,
  log: Logger,
  shareHold: ShareHold | null = null,
): Promise<boolean> {
  let q = queues.get(tenantId);
  if (!q) {
    q = { waiting: [], out: null };
    queues.set(tenantId, q);
  }
  const item: QueuedRecord = { input, log, attempts: 0, settled: false, taken: false, shareHold };
  if (full(q)) {
    forgetConversations(tenantId);
    await deferRecords(env, [item]);
    return false;
  }
  q.waiting.push(item);
  // Records wait for the next requests' to go with them in one RPC (each call costs the isolate and the
  // tracker more than the records it carries: bench/report/ab-record-batch-wait.md); a full batch goes now.
  await sleep(goesNow(q) ? 0 : getConfig(env).recordBatchWaitMs);
  while (!item.settled) {
    const out = q.out;
    if (out && Date.now() - out.since < BATCH_LEASE_MS) {
      await sleep(RECORD_POLL_MS);
      continue;
    }
    if (out) {
      log.warn("tracker.fault", { op: "record", fault: "sender gone", records: out.batch.length });
      q.waiting.unshift(...out.batch.filter((b) => !b.settled));
      q.out = null;
    }
    await sendBatch(env, tenantId, q);
  }
  if (q.waiting.length === 0 && q.out === null && queues.get(tenantId) === q) queues.delete(tenantId);
  return item.taken;
}

/**
 * Sends the next batch of a tenant's waiting records; a batch not taken waits its backoff and goes back, a
 * record out of tries goes to the record queue.
 */
async function sendBatch(env: Env, tenantId: string, q: RecordQueue): Promise<void> {
  const batch = q.waiting.splice(0, batchSize(q.waiting));
  if (batch.length === 0) return;
  const mine = { batch, since: Date.now() };
  q.out = mine;
  let sharing: Promise<unknown> | null = null;
  try {
    const sentAt = Date.now();
    let answers: RecordBatchAnswer | null = null;
    const log = batch[0]?.log;
    try {
      answers = await withinDeadline(
        trackerFor(env, tenantId).recordMany(batch.map((b) => b.input)),
        RECORD_RPC_DEADLINE_MS,
      );
      if (answers === null)
        log?.warn("tracker.fault", { op: "record", fault: "deadline", records: batch.length });
    } catch (err) {
      log?.warn("tracker.fault", {
        op: "record",
        fault: err instanceof Error ? err.name : "unknown",
        records: batch.length,
      });
    }
    const again: QueuedRecord[] = [];
    const deferred: QueuedRecord[] = [];
    const toShare: { conversation: string; shared: SharedAnswer }[] = [];
    for (const [i, b] of batch.entries()) {
      if (b.settled) continue; // sent again by another context meanwhile, and heard there
      const answer = answers?.[i];
      if (answer === undefined || ("retry" in answer && answer.retry)) {
        if (++b.attempts < RECORD_ATTEMPTS) again.push(b);
        else deferred.push(b);
        continue;
      }
      const heard = heardRecord(tenantId, b.input, answer, sentAt, b.log);
      if (heard && !(b.shareHold && keepHeld(b.shareHold, heard.shared))) toShare.push(heard);
      b.taken = answer.ok;
      b.settled = true;
    }
    // Shared once the batch is no longer out (below): the next batch does not wait for the cache.
    if (toShare.length > 0 && getConfig(env).sharedAnswersWaitMs > 0)
      sharing = withinDeadline(
        Promise.all(toShare.map((h) => shareAnswer(tenantId, h.conversation, h.shared))),
        SHARE_DEADLINE_MS,
      );
    if (deferred.length > 0) {
      // The isolate never hears these answers: ask the tracker next time instead of trusting its cache.
      forgetConversations(tenantId);
      await deferRecords(env, deferred);
    }
    if (again.length === 0) return;
    q.waiting.unshift(...again);
    mine.batch = []; // waiting again: nothing of this batch is out any more
    const attempt = Math.max(...again.map((b) => b.attempts));
    await sleep(RECORD_BACKOFF_MS * 2 ** (attempt - 1));
  } finally {
    if (q.out === mine) q.out = null;
    if (sharing) await sharing;
  }
}

/**
 * Ends a record's share hold (share-hold.ts) after `ms` and shares the answer it kept, unless a later turn of
 * the conversation superseded it. Runs in the record's own request context. Never rejects.
 */
export async function shareWhenReleased(tenantId: string, hold: ShareHold, ms: number): Promise<void> {
  const shared = await releaseShare(hold, ms);
  if (shared) await withinDeadline(shareAnswer(tenantId, hold.conversation, shared), SHARE_DEADLINE_MS);
}

/**
 * Sends the keepalive captures the edge held back from their records (src/edge/capture-hold.ts) to the
 * tenant's tracker, trying as a record is tried; one not taken is logged (its entry then goes unpinged, the
 * tracker's `no-request`). Never rejects.
 */
export async function keepCapturesSafely(
  env: Env,
  tenantId: string,
  captures: WholeCapture[],
  log: Logger,
): Promise<void> {
  let fault = "unknown";
  for (let attempt = 1; attempt <= RECORD_ATTEMPTS; attempt++) {
    try {
      const answer = await withinDeadline(
        trackerFor(env, tenantId).keepCaptures(tenantId, captures),
        RECORD_RPC_DEADLINE_MS,
      );
      if (answer?.ok) return;
      if (answer && !answer.ok) {
        // Refused (the tenant was deleted, or the input): trying again changes nothing.
        log.warn("tracker.fault", { op: "capture", fault: "rejected" });
        return;
      }
      fault = "deadline";
    } catch (err) {
      fault = err instanceof Error ? err.name : "unknown";
    }
    if (attempt < RECORD_ATTEMPTS) await sleep(RECORD_BACKOFF_MS * 2 ** (attempt - 1));
  }
  log.warn("tracker.fault", { op: "capture", fault, captures: captures.length });
}

/** Records out of tries go to the record queue; each settles, sent or lost (logged). */
async function deferRecords(env: Env, records: QueuedRecord[]): Promise<void> {
  await Promise.all(
    records.map(async (b) => {
      const sent = await queueRecord(env.RECORD_QUEUE, b.input);
      if (sent === true) b.log.warn("record.queued", { request_id: b.input.requestId, attempts: b.attempts });
      else b.log.error("record.lost", { request_id: b.input.requestId, attempts: b.attempts, reason: sent });
      b.settled = true;
    }),
  );
}

/**
 * Takes in the tracker's answer to one record: its positions' states go into the isolate's cache. Returns
 * what it learned of the conversation, for the other isolates of the location (shared-answers.ts).
 */
function heardRecord(
  tenantId: string,
  input: RecordRequest,
  answer: RpcResult<RecordAnswer>,
  sentAt: number,
  log: Logger,
): { conversation: string; shared: SharedAnswer } | null {
  let heard = false;
  let shared: { conversation: string; shared: SharedAnswer } | null = null;
  if (!answer.ok) log.warn("tracker.fault", { op: "record", fault: "rejected" });
  else if (answer.value.states && input.family !== null && input.conversation !== null) {
    const scope = { family: input.family, conversation: input.conversation, model: input.model };
    const hashes = input.positions.map((p) => p.hash);
    const { states, familyRatePerMin, calibration, previousMessageId, outlook, familyOutlook } = answer.value;
    const learned = { states, familyRatePerMin, calibration, previousMessageId, outlook, familyOutlook };
    learn(tenantId, scope, hashes, learned, sentAt);
    shared = { conversation: input.conversation, shared: { at: sentAt, hashes, answer: learned } };
    heard = true;
  } else heard = answer.value.states !== undefined || input.positions.length === 0;
  // Without the tracker's answer the cache cannot know what it now holds: ask it next time.
  if (!heard) forgetConversations(tenantId);
  return shared;
}

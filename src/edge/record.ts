import type { Context } from "hono";
import type { Logger } from "../core/log.ts";
import type { Provider } from "../core/provider.ts";
import { costOfUsage, costWithoutCache } from "../economics/cost.ts";
import { type ModelInfo, type ModelTable, modelInfo } from "../economics/models.ts";
import { summarizeChain } from "../prefix/diff.ts";
import { keepCapturesSafely, recordSafely, shareWhenReleased } from "../tracker/client.ts";
import { learnOutcome } from "../tracker/client-cache.ts";
import { holdShare } from "../tracker/share-hold.ts";
import type { KeepaliveCapture, RecordRequest, WholeCapture } from "../tracker/types.ts";
import { type Accounting, accountingLogFields } from "../upstream/accounting.ts";
import type { Outcome } from "../upstream/outcome.ts";
import { afterThisTurn } from "./after-turn.ts";
import { rehashedCapture } from "./capture.ts";
import { type Hold, holdCapture, releaseHold } from "./capture-hold.ts";
import type { AppEnv } from "./context.ts";
import { volatileExcerpts } from "./excerpts.ts";
import { type Prepared, settled } from "./prepare.ts";

/** The outcome's model row (a compat upstream's models are priced as OpenAI's when its table lacks them). */
function outcomeModel(outcome: Outcome, models: ModelTable): ModelInfo {
  const provider = outcome.upstream.startsWith("compat:") ? "openai" : (outcome.upstream as Provider);
  return modelInfo(outcome.model, models, provider);
}

/** The request's accounting, from its outcome: built once, logged, recorded and stored as it is. */
export function accountingOf(outcome: Outcome, model: ModelInfo): Accounting {
  const usage = outcome.usage;
  return {
    requestId: outcome.requestId,
    at: outcome.startedAt,
    upstream: outcome.upstream,
    endpoint: outcome.endpoint,
    model: outcome.model.slice(0, 200),
    stream: outcome.stream,
    keepalive: false,
    status: outcome.status,
    result: outcome.result,
    usage,
    costUsd: usage ? costOfUsage(model, usage) : 0,
    costWithoutCacheUsd: usage ? costWithoutCache(model, usage) : 0,
    ttfbMs: outcome.ttfbMs,
    durationMs: outcome.durationMs,
    plan: outcome.plan,
  };
}

/**
 * A request planned before its conversation's later positions were hashed (`Prepared.hashLater`), with them
 * hashed, and its keepalive capture with its position's hash; anything else as it is.
 */
function withHashes<C extends { hash: string }>(
  prepared: Prepared,
  capture: C | null,
): { whole: Prepared; captured: C | null } {
  const whole = settled(prepared);
  return { whole, captured: whole !== prepared && capture ? rehashedCapture(capture, whole) : capture };
}

/** The tracker's record of one outcome: its accounting and what the tracker learns of its prefix. */
export function toRecord(
  outcome: Outcome,
  prepared: Prepared,
  capture: KeepaliveCapture | null,
  models: ModelTable,
  /** The request's model row when the edge looked it up already (`c.var.model`). */
  info?: ModelInfo,
  /** The accounting when the caller built it already (`recordOutcome`). */
  accounting?: Accounting,
): RecordRequest {
  const model = info ?? outcomeModel(outcome, models);
  // recordOutcome settles first; any other caller's deferred request is settled here.
  const { whole, captured } = withHashes(prepared, capture);
  return {
    ...(accounting ?? accountingOf(outcome, model)),
    tenantId: outcome.tenantId,
    family: whole.analysis?.family ?? null,
    conversation: whole.analysis?.conversation ?? null,
    estimatedTokens: whole.analysis?.totalTokens ?? 0,
    positions: whole.positions,
    chain: whole.analysis ? summarizeChain(whole.analysis) : null,
    pricing: {
      inputPerToken: model.inputPerMTok / 1e6,
      cacheRead: model.cacheRead,
      cacheWrite5m: model.cacheWrite5m,
    },
    capture: captured,
    excerpts: whole.analysis ? volatileExcerpts(whole.analysis) : [],
    messageId: outcome.message?.messageId ?? null,
    providerMiss: outcome.message?.miss ?? null,
    answer: outcome.answer ?? null,
  };
}

/**
 * The single outcome hook: after the response, via waitUntil, one log line (counts only, no content) and
 * one tracker record, both from the request's accounting. Nothing here can fail or delay the client's request.
 * A keepalive capture is held back (`KEEPALIVE_CAPTURE_HOLD_MS`, capture-hold.ts): the record goes without
 * its body, which follows once the tracker has the record, unless a later turn superseded it meanwhile.
 */
export function recordOutcome(
  c: Context<AppEnv>,
  outcome: Outcome,
  prepared: Prepared,
  capture: WholeCapture | null,
): void {
  const log = c.var.log;
  const { models, keepalive } = c.var.config;
  const info = c.var.model ?? outcomeModel(outcome, models);
  const accounting = accountingOf(outcome, info);
  log.info(
    "request.done",
    accountingLogFields(accounting, { tenant: outcome.tenantId, headers_ms: outcome.headersMs }),
  );
  // Built and sent on a later turn of the event loop, so cloning the record (it may carry the whole request
  // for keepalive) never delays the response's last byte.
  afterThisTurn(c, "record", () => {
    // Hashed now, before the capture is held.
    const { whole, captured } = withHashes(prepared, capture);
    const holdMs = keepalive.captureHoldMs;
    const hold = captured && holdMs > 0 ? holdCapture(outcome.tenantId, captured, Date.now(), holdMs) : null;
    const sent = hold && captured ? { ...captured, body: null } : captured;
    const record = toRecord(outcome, whole, sent, models, info, accounting);
    // The conversation's next turn in this isolate is planned from this outcome, not from the tracker's
    // answer to it (which comes later and replaces it): nothing on the request path waits for the record.
    learnOutcome(outcome.tenantId, record, keepalive.anthropicTtlMs, Date.now());
    // In a fast loop the tracker's answer is shared with the location's other isolates only if no later turn
    // came through this one within the hold (share-hold.ts).
    const { sharedAnswersWaitMs, sharedAnswersHoldMs } = c.var.config;
    const conversation = record.conversation;
    const share =
      conversation !== null && sharedAnswersWaitMs > 0 && sharedAnswersHoldMs > 0
        ? holdShare(outcome.tenantId, conversation, Date.now(), sharedAnswersHoldMs)
        : null;
    const recorded = recordSafely(c.env, outcome.tenantId, record, log, share);
    const afterRecord = recorded.then(
      hold ? afterHold(c.env, outcome.tenantId, hold, holdMs, log) : () => {},
    );
    if (!share) return afterRecord;
    return Promise.all([afterRecord, shareWhenReleased(outcome.tenantId, share, sharedAnswersHoldMs)]);
  });
}

/**
 * Once the record is settled: the held capture sent after `ms` unless superseded meanwhile. Made out here so
 * that the wait keeps only these alive (a closure in `recordOutcome` would keep the request's analysis).
 */
function afterHold(
  env: Env,
  tenantId: string,
  hold: Hold,
  ms: number,
  log: Logger,
): (taken: boolean) => Promise<void> {
  return async (taken) => {
    const held = await releaseHold(hold, ms);
    // A record the tracker did not take (the record queue has it) keeps no capture, as queued records do.
    if (held && taken) await keepCapturesSafely(env, tenantId, [held], log);
  };
}

import type { Context } from "hono";
import { costOfUsage, costWithoutCache } from "../economics/cost.ts";
import { type ModelInfo, type ModelTable, modelInfo } from "../economics/models.ts";
import { summarizeChain } from "../prefix/diff.ts";
import { recordSafely } from "../tracker/client.ts";
import { learnOutcome } from "../tracker/client-cache.ts";
import type { KeepaliveCapture, RecordRequest } from "../tracker/types.ts";
import type { Outcome } from "../upstream/outcome.ts";
import type { AppEnv } from "./context.ts";
import { volatileExcerpts } from "./excerpts.ts";
import type { Prepared } from "./prepare.ts";

/** The accounting row (and prefix facts) for one outcome. */
export function toRecord(
  outcome: Outcome,
  prepared: Prepared,
  capture: KeepaliveCapture | null,
  models: ModelTable,
  /** The request's model row when the edge looked it up already (`c.var.model`). */
  info?: ModelInfo,
): RecordRequest {
  const usage = outcome.usage;
  const model = info ?? modelInfo(outcome.model, models, outcome.upstream);
  return {
    tenantId: outcome.tenantId,
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
    family: prepared.analysis?.family ?? null,
    conversation: prepared.analysis?.conversation ?? null,
    estimatedTokens: prepared.analysis?.totalTokens ?? 0,
    positions: prepared.positions,
    chain: prepared.analysis ? summarizeChain(prepared.analysis) : null,
    pricing: {
      inputPerToken: model.inputPerMTok / 1e6,
      cacheRead: model.cacheRead,
      cacheWrite5m: model.cacheWrite5m,
    },
    capture,
    excerpts: prepared.analysis ? volatileExcerpts(prepared.analysis) : [],
    messageId: outcome.message?.messageId ?? null,
    providerMiss: outcome.message?.miss ?? null,
  };
}

/**
 * The single outcome hook: after the response, via waitUntil, one log line (counts only, no content) and
 * one tracker record. Nothing here can fail or delay the client's request.
 */
export function recordOutcome(
  c: Context<AppEnv>,
  outcome: Outcome,
  prepared: Prepared,
  capture: KeepaliveCapture | null,
): void {
  const { usage } = outcome;
  const log = c.var.log;
  log.info("request.done", {
    tenant: outcome.tenantId,
    upstream: outcome.upstream,
    endpoint: outcome.endpoint,
    model: outcome.model,
    stream: outcome.stream,
    status: outcome.status,
    result: outcome.result,
    input_tokens: usage?.inputTokens,
    cache_read_tokens: usage?.cacheReadTokens,
    cache_write_5m_tokens: usage?.cacheWrite5mTokens,
    cache_write_1h_tokens: usage?.cacheWrite1hTokens,
    uncached_tokens: usage?.uncachedTokens,
    output_tokens: usage?.outputTokens,
    headers_ms: outcome.headersMs,
    ttfb_ms: outcome.ttfbMs,
    duration_ms: outcome.durationMs,
    plan: outcome.plan,
  });
  // Built and sent on a later turn of the event loop, so cloning the record (it may carry the whole request
  // for keepalive) never delays the response's last byte.
  const { models, keepalive } = c.var.config;
  const info = c.var.model;
  c.executionCtx.waitUntil(
    new Promise<void>((resolve) => setTimeout(resolve, 0)).then(() => {
      const record = toRecord(outcome, prepared, capture, models, info);
      // The conversation's next turn in this isolate is planned from this outcome, not from the tracker's
      // answer to it (which comes later and replaces it): nothing on the request path waits for the record.
      learnOutcome(outcome.tenantId, record, keepalive.anthropicTtlMs, Date.now());
      return recordSafely(c.env, outcome.tenantId, record, log);
    }),
  );
}

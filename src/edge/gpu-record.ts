import type { Context } from "hono";
import { type GpuOutcome, gpuRecord } from "../gpu/record.ts";
import { recordSafely } from "../tracker/client.ts";
import type { AppEnv } from "./context.ts";

/** One log line (counts only) and, after the response, one tracker record. Never fails the request. */
export function recordGpu(c: Context<AppEnv>, o: GpuOutcome): void {
  const log = c.var.log;
  log.info("request.done", {
    tenant: o.tenantId,
    upstream: `gpu:${o.pool.name}`,
    endpoint: o.endpoint,
    model: o.model,
    stream: o.stream,
    status: o.status,
    result: o.result,
    backend: o.backend,
    attempts: o.attempts,
    input_tokens: o.usage?.inputTokens,
    cache_read_tokens: o.usage?.cacheReadTokens,
    output_tokens: o.usage?.outputTokens,
    ttfb_ms: o.ttfbMs,
    duration_ms: o.durationMs,
    plan: o.plan,
  });
  c.executionCtx.waitUntil(
    new Promise<void>((resolve) => setTimeout(resolve, 0)).then(() =>
      recordSafely(c.env, o.tenantId, gpuRecord(o), log),
    ),
  );
}

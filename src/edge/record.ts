import type { Context } from "hono";
import type { Outcome } from "../upstream/outcome.ts";
import type { AppEnv } from "./context.ts";

/**
 * The single outcome hook: runs after the response, via waitUntil, and never fails the request.
 * For now it writes one structured log line (counts only, no content).
 */
export function recordOutcome(c: Context<AppEnv>, outcome: Outcome): void {
  const { usage } = outcome;
  c.var.log.info("request.done", {
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
  });
}

import type { RecordRequest } from "../../src/tracker/types.ts";

/** An Anthropic Messages record that read and wrote nothing, with `over` on top: what tracker tests send. */
export function recordRequest(
  over: Partial<RecordRequest> & Pick<RecordRequest, "tenantId" | "requestId" | "at">,
): RecordRequest {
  return {
    upstream: "anthropic",
    endpoint: "messages",
    model: "claude-sonnet-4-6",
    stream: false,
    keepalive: false,
    status: 200,
    result: "ok",
    usage: {
      inputTokens: 500,
      uncachedTokens: 500,
      cacheReadTokens: 0,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 0,
      outputTokens: 5,
    },
    costUsd: 0,
    costWithoutCacheUsd: 0,
    ttfbMs: 1,
    durationMs: 1,
    plan: null,
    family: "family-aaaaaaaaaaaa",
    conversation: null,
    estimatedTokens: 500,
    positions: [],
    chain: null,
    pricing: { inputPerToken: 3e-6, cacheRead: 0.1 },
    capture: null,
    ...over,
  };
}

import type { LogFields } from "../core/log.ts";
import type { CompatUpstreamId, Provider } from "../core/provider.ts";
import type { Usage } from "./usage.ts";

/** Where a request went: a provider, `gpu:<pool>` for a GPU pool's requests, `compat:<name>` for an OpenAI-compatible one. */
export type Upstream = Provider | `gpu:${string}` | CompatUpstreamId;

/**
 * One request's accounting: built once from its outcome (src/edge/record.ts, src/gpu/record.ts), carried
 * as is in the tracker's record (`RecordRequest` extends it), validated as this shape at the tracker
 * (`validateAccounting`), stored field for field as its `requests` row (`accountingRow`), and logged from it
 * (`accountingLogFields`).
 */
export interface Accounting {
  requestId: string;
  /** When the request started (ms since the epoch). */
  at: number;
  upstream: Upstream;
  endpoint: string;
  model: string;
  stream: boolean;
  /** A keepalive ping's own request, not a client's. */
  keepalive: boolean;
  /** HTTP status the client got (a stream that broke after its headers keeps its 200). */
  status: number;
  result: string;
  /** Usage as the upstream reported it; null when it reported none (errors, cut streams). */
  usage: Usage | null;
  costUsd: number;
  costWithoutCacheUsd: number;
  ttfbMs: number;
  durationMs: number;
  /** Compact description of what Stoker changed in the request, if anything. */
  plan: string | null;
}

/** The usage fields, in the order the `requests` row stores them. */
export const USAGE_FIELDS = [
  "inputTokens",
  "uncachedTokens",
  "cacheReadTokens",
  "cacheWrite5mTokens",
  "cacheWrite1hTokens",
  "outputTokens",
] as const satisfies readonly (keyof Usage)[];

/**
 * The `request.done` log line's fields: counts only, never content (the plan is Stoker's own description).
 * `extra` adds what the route knows beyond the accounting (the tenant, time to headers, a GPU backend).
 */
export function accountingLogFields(a: Accounting, extra: LogFields = {}): LogFields {
  const u = a.usage;
  return {
    ...extra,
    upstream: a.upstream,
    endpoint: a.endpoint,
    model: a.model,
    stream: a.stream,
    status: a.status,
    result: a.result,
    input_tokens: u?.inputTokens,
    cache_read_tokens: u?.cacheReadTokens,
    cache_write_5m_tokens: u?.cacheWrite5mTokens,
    cache_write_1h_tokens: u?.cacheWrite1hTokens,
    uncached_tokens: u?.uncachedTokens,
    output_tokens: u?.outputTokens,
    ttfb_ms: a.ttfbMs,
    duration_ms: a.durationMs,
    plan: a.plan,
  };
}

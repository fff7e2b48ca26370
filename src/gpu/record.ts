import type { GpuPoolConfig } from "../core/gpu-config.ts";
import type { RecordRequest } from "../tracker/types.ts";
import type { Accounting } from "../upstream/accounting.ts";
import type { Usage } from "../upstream/usage.ts";
import type { GpuEndpoint } from "./prompt.ts";

/**
 * GPU-seconds of a request at full utilization: its uncached prompt at the pool's prefill throughput plus its
 * output at the pool's decode throughput (all sequences together, so a token's share of a batched step).
 * `withoutCache`: the same with the whole prompt prefilled. Priced at `usd_per_gpu_hour` (0 by default: a
 * self-hosted GPU costs the same whether it is busy or not, and the saving shows as GPU time, not money).
 */
export function gpuSeconds(pool: GpuPoolConfig, usage: Usage): { used: number; withoutCache: number } {
  const decode = usage.outputTokens / pool.decodeTokensPerS;
  return {
    used: usage.uncachedTokens / pool.prefillTokensPerS + decode,
    withoutCache: usage.inputTokens / pool.prefillTokensPerS + decode,
  };
}

export interface GpuOutcome {
  requestId: string;
  tenantId: string;
  pool: GpuPoolConfig;
  endpoint: GpuEndpoint;
  model: string;
  stream: boolean;
  status: number;
  result: string;
  usage: Usage | null;
  startedAt: number;
  ttfbMs: number;
  durationMs: number;
  plan: string;
  backend: number | null;
  attempts: number;
}

/** A GPU request's accounting: upstream `gpu:<pool>`, priced in GPU time. */
export function gpuAccounting(o: GpuOutcome, keepalive = false): Accounting {
  const usdPerS = o.pool.usdPerGpuHour / 3600;
  const seconds = o.usage ? gpuSeconds(o.pool, o.usage) : { used: 0, withoutCache: 0 };
  return {
    requestId: o.requestId,
    at: o.startedAt,
    upstream: `gpu:${o.pool.name}`,
    endpoint: o.endpoint,
    model: o.model.slice(0, 200),
    stream: o.stream,
    keepalive,
    status: o.status,
    result: o.result,
    usage: o.usage,
    costUsd: seconds.used * usdPerS,
    costWithoutCacheUsd: seconds.withoutCache * usdPerS,
    ttfbMs: Math.max(0, Math.round(o.ttfbMs)),
    durationMs: Math.max(0, Math.round(o.durationMs)),
    plan: o.plan.slice(0, 500),
  };
}

/** The tracker's record of a GPU request: its accounting, no provider prefix beliefs. */
export function gpuRecord(
  o: GpuOutcome,
  keepalive = false,
  accounting = gpuAccounting(o, keepalive),
): RecordRequest {
  const usdPerS = o.pool.usdPerGpuHour / 3600;
  return {
    ...accounting,
    tenantId: o.tenantId,
    // The pool object keeps what each backend holds; the tracker only accounts.
    family: null,
    conversation: null,
    estimatedTokens: 0,
    positions: [],
    chain: null,
    pricing: { inputPerToken: usdPerS / o.pool.prefillTokensPerS, cacheRead: 0 },
    capture: null,
  };
}

import type { Config } from "../core/config.ts";
import { open } from "../core/crypto.ts";
import type { GpuPoolConfig } from "../core/gpu-config.ts";
import { createLogger } from "../core/log.ts";
import { recordSafely } from "../tracker/client.ts";
import { openAIChatUsage, type Usage } from "../upstream/usage.ts";
import type { PoolState } from "./pool-state.ts";
import { GPU_PATHS, type GpuEndpoint } from "./prompt.ts";
import { gpuRecord } from "./record.ts";
import { decideTouch, nextLook, TOUCH_SHARE } from "./touch.ts";
import type { TouchRow, TouchStore } from "./touch-store.ts";

/** What one keepalive sweep of a pool did. */
export interface TouchReport {
  due: number;
  touched: number;
  /** Looked at and left for later (the touch did not pay yet, or no room). */
  deferred: number;
  /** Given up: horizon, touch limit, or the prefix is gone. */
  dropped: number;
  /** GPU-seconds the sent touches cost (their usage at the pool's throughputs). */
  gpuSeconds: number;
}

/** A row with nothing to decide yet is looked at again after this long. */
export const RECHECK_MS = 15 * 60_000;
const TOUCH_TIMEOUT_MS = 30_000;

export interface TouchDeps {
  store: TouchStore;
  state: PoolState;
  pool: GpuPoolConfig;
  config: Config;
  env: Env;
}

/** Estimated life of a free block on backend b: its KV cache over the rate of new tokens sent to it. */
export function residencyMs(pool: GpuPoolConfig, state: PoolState, b: number, nowMs: number): number {
  const kv = pool.backends[b]?.kvCacheTokens;
  const rate = state.fillRate(b, nowMs);
  if (!kv) return Number.NaN;
  return rate > 0 ? (kv / rate) * 1000 : Number.POSITIVE_INFINITY;
}

/** One sweep: the due rows (claimed first), each decided, touched when it pays, and rescheduled or dropped. */
export async function runTouches(deps: TouchDeps, nowMs: number, limit: number): Promise<TouchReport> {
  const { store, state, pool, config } = deps;
  const report: TouchReport = { due: 0, touched: 0, deferred: 0, dropped: 0, gpuSeconds: 0 };
  const rows = store.claimDue(nowMs, limit);
  report.due = rows.length;
  const log = createLogger("gpu-keepalive", config.logLevel);
  for (const row of rows) {
    const backend = pool.backends[row.backend];
    const chunks = JSON.parse(row.chunks) as string[];
    const residency = residencyMs(pool, state, row.backend, nowMs);
    // Touch only what the index still believes there: a touch of an evicted prompt is a full prefill.
    if (!backend?.kvCacheTokens || Number.isNaN(residency) || !state.holds(row.backend, chunks, nowMs)) {
      store.drop(row);
      report.dropped++;
      continue;
    }
    const held = store.heldByTouches(row.backend) - (row.touches > 0 ? row.tokens : 0);
    const d = decideTouch(
      { tokens: row.tokens, uses: row.uses, touches: row.touches, lastUseMs: row.last_use },
      {
        nowMs,
        residencyMs: residency,
        prefillTokensPerS: pool.prefillTokensPerS,
        roomTokens: TOUCH_SHARE * backend.kvCacheTokens - held,
      },
    );
    if (!d.touch) {
      if (d.reason === "horizon" || d.reason === "max-touches" || d.reason === "small") {
        store.drop(row);
        report.dropped++;
      } else {
        store.later(row, nextLook(nowMs, residency) ?? nowMs + RECHECK_MS);
        report.deferred++;
      }
      continue;
    }
    const usage = await sendTouch(deps, row);
    if (usage === "failed") {
      store.later(row, nowMs + 60_000);
      report.deferred++;
      continue;
    }
    const record = gpuRecord(
      {
        requestId: `req_stk_touch_${crypto.randomUUID().replaceAll("-", "")}`,
        tenantId: row.tenant,
        pool,
        endpoint: row.endpoint as GpuEndpoint,
        model: "keepalive",
        stream: false,
        status: 200,
        result: "ok",
        usage,
        startedAt: nowMs,
        ttfbMs: 0,
        durationMs: 0,
        plan: `gpu touch backend=${row.backend}`,
        backend: row.backend,
        attempts: 1,
      },
      true,
    );
    report.gpuSeconds += usage
      ? usage.uncachedTokens / pool.prefillTokensPerS + usage.outputTokens / pool.decodeTokensPerS
      : 0;
    await recordSafely(deps.env, row.tenant, record, log);
    if (!usage || usage.cacheReadTokens < row.tokens / 2) {
      // It was gone: the touch wrote it again (at a full prefill's price). Stop here.
      store.drop(row);
      report.dropped++;
      continue;
    }
    state.touch(row.backend, chunks, nowMs);
    store.touched(row, nextLook(nowMs, residency));
    report.touched++;
  }
  return report;
}

/** Sends one touch to the backend holding the prompt; never retries (the next sweep may). */
async function sendTouch(deps: TouchDeps, row: TouchRow): Promise<Usage | null | "failed"> {
  const backend = deps.pool.backends[row.backend];
  if (!backend) return "failed";
  let body: string;
  try {
    body = await open(
      deps.config.secret,
      row.tenant,
      `gpu:${row.key}`,
      { iv: row.iv, data: row.sealed },
      "gpu-touch",
      true,
    );
  } catch {
    return "failed";
  }
  const headers = new Headers({ "content-type": "application/json" });
  if (backend.key) headers.set("authorization", `Bearer ${backend.key}`);
  try {
    const res = await fetch(`${backend.url}${GPU_PATHS[row.endpoint as GpuEndpoint] ?? "/v1/completions"}`, {
      method: "POST",
      headers,
      body,
      signal: AbortSignal.timeout(TOUCH_TIMEOUT_MS),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return "failed";
    }
    return openAIChatUsage(((await res.json()) as Record<string, unknown>).usage);
  } catch {
    return "failed";
  }
}

import { withinDeadline } from "../core/deadline.ts";
import type { GpuPoolConfig } from "../core/gpu-config.ts";
import type { Logger } from "../core/log.ts";
import type { GpuPool, RouteInput } from "./pool-object.ts";
import type { FinishReport, RouteDecision } from "./pool-state.ts";
import type { RouteReason } from "./router.ts";

/** How long a request waits for the pool's routing answer before routing without it. */
export const ROUTE_DEADLINE_MS = 50;

/** The pool's router: one Durable Object per pool. */
export function poolFor(env: Env, pool: string): DurableObjectStub<GpuPool> {
  const ns = env.GPU_POOL as DurableObjectNamespace<GpuPool>;
  return ns.get(ns.idFromName(pool));
}

/** A routing answer; `lease` is null when the pool object did not answer and the edge chose alone. */
export type Route = Omit<RouteDecision, "lease" | "reason"> & {
  lease: number | null;
  reason: RouteReason | "fallback";
};

/**
 * Asks the pool object for a backend, waiting at most `deadlineMs`. Without an answer (timeout, error) the
 * edge picks by rendezvous hashing over the backends not yet tried: no load or cache knowledge, but the same
 * prefix keeps going to the same place (fail open).
 */
export async function routeWithDeadline(
  env: Env,
  pool: GpuPoolConfig,
  input: RouteInput,
  nowMs: number,
  deadlineMs: number,
  log: Logger,
): Promise<Route | null> {
  try {
    const answer = await withinDeadline(poolFor(env, pool.name).route(pool.name, input, nowMs), deadlineMs);
    if (answer === null) log.warn("gpu.pool_fault", { op: "route", fault: "timeout", pool: pool.name });
    else if (answer.ok) return answer.value as RouteDecision;
    else log.warn("gpu.pool_fault", { op: "route", fault: "rejected", pool: pool.name });
  } catch (err) {
    log.warn("gpu.pool_fault", {
      op: "route",
      fault: err instanceof Error ? err.name : "unknown",
      pool: pool.name,
    });
  }
  const backend = rendezvous(pool, input.exclude, input.rotation);
  if (backend < 0) return null;
  return { backend, lease: null, reason: "fallback", match: 0, bestMatch: 0, inflight: 0, mean: 0 };
}

/** Weighted rendezvous hashing: the backend with the highest weight-scaled score for this key. */
export function rendezvous(pool: GpuPoolConfig, exclude: readonly number[], key: number): number {
  let best = -1;
  let bestScore = Number.NEGATIVE_INFINITY;
  pool.backends.forEach((b, i) => {
    if (exclude.includes(i)) return;
    const u = (mix(key ^ Math.imul(i + 1, 0x9e3779b1)) + 0.5) / 4294967296;
    const score = -b.weight / Math.log(u);
    if (score > bestScore) {
      bestScore = score;
      best = i;
    }
  });
  return best;
}

function mix(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Ends a lease after the response; a failure is logged, never surfaced. */
export async function finishSafely(
  env: Env,
  pool: string,
  lease: number | null,
  report: FinishReport,
  log: Logger,
): Promise<void> {
  if (lease === null) return;
  try {
    const answer = await poolFor(env, pool).finish(pool, lease, report, Date.now());
    if (!answer.ok) log.warn("gpu.pool_fault", { op: "finish", fault: "rejected", pool });
  } catch (err) {
    log.warn("gpu.pool_fault", { op: "finish", fault: err instanceof Error ? err.name : "unknown", pool });
  }
}

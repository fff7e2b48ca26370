import type { ReplayResult } from "./engine.ts";
import type { Trace } from "./trace.ts";

/** Figures over the trace's time for the report's charts: hit rate per time bucket, reuse gaps, stop points. */

/** Token hit rate of the requests arriving in each bucket of `bucketMs` (from the first request on). */
export function hitRateByBucket(
  trace: Trace,
  result: ReplayResult,
  bucketMs: number,
): { midS: number[]; rate: number[] } {
  const start = trace.requests[0]?.atMs ?? 0;
  const count = Math.max(1, Math.ceil((trace.endMs - start + 1) / bucketMs));
  const read = new Float64Array(count);
  const input = new Float64Array(count);
  const reads = result.requestReads;
  trace.requests.forEach((r, j) => {
    const b = Math.min(count - 1, Math.floor((r.atMs - start) / bucketMs));
    read[b] = (read[b] as number) + (reads?.[j] ?? 0);
    input[b] = (input[b] as number) + r.inputTokens;
  });
  const midS: number[] = [];
  const rate: number[] = [];
  for (let b = 0; b < count; b++) {
    if ((input[b] as number) === 0) continue;
    midS.push((start + (b + 0.5) * bucketMs) / 1000);
    rate.push((read[b] as number) / (input[b] as number));
  }
  return { midS, rate };
}

/** Every gap between two consecutive requests that hold the same block (a prefix reused), in ms, sorted. */
export function reuseGaps(trace: Trace): Float64Array {
  const last = new Float64Array(trace.blockCount).fill(Number.NaN);
  const gaps: number[] = [];
  for (const r of trace.requests) {
    for (const id of r.ids) {
      const prev = last[id] as number;
      if (!Number.isNaN(prev)) gaps.push(r.atMs - prev);
      last[id] = r.atMs;
    }
  }
  return Float64Array.from(gaps).sort();
}

/** Share of `sortedMs` in each bin of `binMs`, `bins` bins, the last one holding everything beyond. */
export function histogram(sortedMs: Float64Array, binMs: number, bins: number): number[] {
  const out = new Array<number>(bins).fill(0);
  for (const g of sortedMs) {
    const b = Math.min(bins - 1, Math.floor(g / binMs));
    out[b] = (out[b] as number) + 1;
  }
  return out.map((c) => c / Math.max(1, sortedMs.length));
}

/** The q-quantile of sorted values (nearest rank). */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/** How many of the sorted values are at or below `x`. */
export function countAtMost(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Share of sorted values at or below `x`. */
export function shareAtMost(sorted: Float64Array, x: number): number {
  return sorted.length === 0 ? 0 : countAtMost(sorted, x) / sorted.length;
}

/** A lapse where a policy let blocks go: how long after their last real use, and how many tokens. */
export interface StopPoint {
  idleMs: number;
  tokens: number;
}

/**
 * Where a policy let entries lapse: the share of the tokens it let go at each idle time (rounded to the
 * minute), in increasing idle time.
 */
export function stopShares(stops: readonly StopPoint[]): { atMin: number[]; share: number[] } {
  const byMin = new Map<number, number>();
  let total = 0;
  for (const s of stops) {
    const m = Math.round(s.idleMs / 60_000);
    byMin.set(m, (byMin.get(m) ?? 0) + s.tokens);
    total += s.tokens;
  }
  const atMin = [...byMin.keys()].sort((a, b) => a - b);
  return { atMin, share: atMin.map((m) => (byMin.get(m) ?? 0) / Math.max(1, total)) };
}

/**
 * How many of a workload's heads (a request's first `headBlocks` blocks) were first sent before any head was
 * sent a second time, and their tokens: their first sight is planned before the tenant has seen a single return.
 */
export function headsBeforeFirstReturn(
  trace: Trace,
  headBlocks: number,
): { before: number; heads: number; beforeTokens: number } {
  const seen = new Set<string>();
  let before = -1;
  let beforeTokens = 0;
  for (const r of trace.requests) {
    const head = r.ids.subarray(0, headBlocks);
    const key = head.join(",");
    if (seen.has(key)) {
      if (before < 0) before = seen.size;
      continue;
    }
    seen.add(key);
    if (before < 0) for (const id of head) beforeTokens += trace.blockTokens[id] ?? 0;
  }
  return { before: before < 0 ? seen.size : before, heads: seen.size, beforeTokens };
}

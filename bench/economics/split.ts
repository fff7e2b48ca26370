import type { Trace } from "./trace.ts";

/**
 * The split that keeps fitting and reporting apart: constants are fitted on the first half of the Mooncake
 * conversation trace (by request count, in time order) and on the training seeds of the synthetic
 * workloads; the reports show the second half and fresh seeds (synthetic.ts). The GPU routing benchmark
 * splits its own expansion of the same trace with `firstHalf` and `secondHalf` (bench/gpu/fit.ts).
 */
export function firstHalf<T>(requests: readonly T[]): T[] {
  return requests.slice(0, Math.floor(requests.length / 2));
}

export function secondHalf<T>(requests: readonly T[]): T[] {
  return requests.slice(Math.floor(requests.length / 2));
}

function withRequests(trace: Trace, requests: Trace["requests"]): Trace {
  const totalInputTokens = requests.reduce((a, r) => a + r.inputTokens, 0);
  return { ...trace, requests, totalInputTokens, endMs: requests.at(-1)?.atMs ?? 0 };
}

export function trainingHalf(trace: Trace): Trace {
  return withRequests(trace, firstHalf(trace.requests));
}

export function testHalf(trace: Trace): Trace {
  return withRequests(trace, secondHalf(trace.requests));
}

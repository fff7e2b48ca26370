import type { Trace } from "./trace.ts";

/**
 * The split that keeps fitting and reporting apart: constants are fitted on the first half of the Mooncake
 * conversation trace (by request count) and on the training seeds of the synthetic workloads; the report
 * shows the second half and fresh seeds (synthetic.ts).
 */
function slice(trace: Trace, from: number, to: number): Trace {
  const requests = trace.requests.slice(from, to);
  const totalInputTokens = requests.reduce((a, r) => a + r.inputTokens, 0);
  return { ...trace, requests, totalInputTokens, endMs: requests.at(-1)?.atMs ?? 0 };
}

export function trainingHalf(trace: Trace): Trace {
  return slice(trace, 0, Math.floor(trace.requests.length / 2));
}

export function testHalf(trace: Trace): Trace {
  return slice(trace, Math.floor(trace.requests.length / 2), trace.requests.length);
}

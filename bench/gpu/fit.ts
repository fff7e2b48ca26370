import { GPU_DEFAULTS } from "../../src/core/gpu-config.ts";
import { AFFINITY } from "../../src/gpu/pool-state.ts";
import { stoker } from "./policies.ts";
import { type ReplayResult, replay } from "./replay.ts";
import { ENGINE, loadHalves, SIZES } from "./setup.ts";
import type { BenchRequest } from "./trace.ts";

/**
 * Fits the router's `AFFINITY` (src/gpu/pool-state.ts) on the training half of the Mooncake trace: Stoker's
 * policy is replayed on 4 and 8 backends once per value of the grid, and the value with the lowest mean TTFT
 * over all requests of both replays wins. TTFT is what the constant trades: a larger value keeps more
 * conversations where their prefix is (less prefill for everyone), a smaller one sends fewer requests into
 * a queue. `node bench/gpu/fit.ts` (`npm run bench:gpu:fit`, about 1.5 minutes) prints the grid;
 * `npm run bench:gpu` runs the same fit before its report and stops if the result is not `AFFINITY`.
 */

export const AFFINITY_GRID: readonly number[] = [1, 2, 3, 5, 7, 10, 15, 20, 30];

export interface GridRow {
  affinity: number;
  /** One replay per pool size (SIZES). */
  results: ReplayResult[];
  /** Mean TTFT over all requests of the replays. */
  meanTtftMs: number;
}

export interface AffinityFit {
  requests: number;
  spanS: number;
  rows: GridRow[];
  chosen: number;
}

export function fitAffinity(
  training: readonly BenchRequest[],
  log: (line: string) => void = () => {},
): AffinityFit {
  const rows = AFFINITY_GRID.map((affinity): GridRow => {
    const results = SIZES.map((n) => {
      const t0 = performance.now();
      const router = stoker({ backends: n, kvTokens: ENGINE.capacityTokens }, GPU_DEFAULTS.epsilon, {
        prefillTokensPerS: ENGINE.prefillTokensPerS,
        affinity,
        label: `affinity ${affinity}`,
      });
      const r = replay(training, router, n, ENGINE);
      log(
        `fit  ${n} backends  affinity ${String(affinity).padStart(2)}  hit ${(r.hitRate * 100).toFixed(1)} %  mean TTFT ${(r.meanTtftMs / 1000).toFixed(3)} s  P90 ${(r.ttftP90Ms / 1000).toFixed(2)} s  (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
      );
      return r;
    });
    const meanTtftMs = results.reduce((a, r) => a + r.meanTtftMs, 0) / results.length;
    return { affinity, results, meanTtftMs };
  });
  const best = rows.reduce((a, b) => (b.meanTtftMs < a.meanTtftMs ? b : a));
  const first = training[0]?.atMs ?? 0;
  const last = training.at(-1)?.atMs ?? 0;
  return { requests: training.length, spanS: Math.round((last - first) / 1000), rows, chosen: best.affinity };
}

/** The grid as a markdown table: per value, each pool size's hit rate and TTFT, and the pooled mean. */
export function gridTable(fit: AffinityFit): string {
  const head = SIZES.map((n) => `${n} backends: hit rate / mean / P90 TTFT (s)`);
  const lines = [
    `| affinity | ${head.join(" | ")} | mean TTFT, both (ms) |`,
    `| ---: | ${SIZES.map(() => "---:").join(" | ")} | ---: |`,
  ];
  for (const row of fit.rows) {
    const cells = row.results.map(
      (r) =>
        `${(r.hitRate * 100).toFixed(1)} % / ${(r.meanTtftMs / 1000).toFixed(3)} / ${(r.ttftP90Ms / 1000).toFixed(2)}`,
    );
    const mark = (s: string) => (row.affinity === fit.chosen ? `**${s}**` : s);
    lines.push(
      `| ${mark(String(row.affinity))} | ${cells.join(" | ")} | ${mark(row.meanTtftMs.toFixed(1))} |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const started = performance.now();
  const fit = fitAffinity(loadHalves().training, console.log);
  console.log(`\n${gridTable(fit)}\n`);
  console.log(
    `fitted AFFINITY = ${fit.chosen} on the training half (${fit.requests} requests); src/gpu/pool-state.ts has ${AFFINITY}. ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
}

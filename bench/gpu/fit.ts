import { GPU_DEFAULTS } from "../../src/core/gpu-config.ts";
import { AFFINITY } from "../../src/gpu/pool-state.ts";
import { stoker } from "./policies.ts";
import { type ReplayResult, replay } from "./replay.ts";
import { ENGINE, loadHalves, SIZES } from "./setup.ts";
import type { BenchRequest } from "./trace.ts";

/**
 * Fits the router's `AFFINITY` (src/gpu/pool-state.ts) and the pools' default bounded-load ε
 * (`GPU_DEFAULTS.epsilon`, src/core/gpu-config.ts) together on the training half of the Mooncake trace:
 * Stoker's policy is replayed on 4 and 8 backends once per pair of the grid, and the pair with the lowest
 * mean TTFT over all requests of both replays wins. TTFT is what the constants trade: a larger affinity or ε
 * keeps more conversations where their prefix is (less prefill for everyone), a smaller one sends fewer
 * requests into a queue. `node bench/gpu/fit.ts` (`npm run bench:gpu:fit`, about 5 minutes) prints the grid;
 * `npm run bench:gpu` runs the same fit before its report and stops if the result is not what the code holds.
 */

export const AFFINITY_GRID: readonly number[] = [1, 2, 3, 5, 7, 10, 15, 20, 30];
export const EPSILON_GRID: readonly number[] = [0.25, 0.5, 1, 2];

export interface GridRow {
  affinity: number;
  epsilon: number;
  /** One replay per pool size (SIZES). */
  results: ReplayResult[];
  /** Mean TTFT over all requests of the replays. */
  meanTtftMs: number;
}

export interface AffinityFit {
  requests: number;
  spanS: number;
  rows: GridRow[];
  chosen: { affinity: number; epsilon: number };
}

export function fitAffinity(
  training: readonly BenchRequest[],
  log: (line: string) => void = () => {},
): AffinityFit {
  const rows = EPSILON_GRID.flatMap((epsilon) =>
    AFFINITY_GRID.map((affinity): GridRow => {
      const results = SIZES.map((n) => {
        const t0 = performance.now();
        const router = stoker({ backends: n, kvTokens: ENGINE.capacityTokens }, epsilon, {
          prefillTokensPerS: ENGINE.prefillTokensPerS,
          affinity,
          label: `affinity ${affinity}, ε ${epsilon}`,
        });
        const r = replay(training, router, n, ENGINE);
        log(
          `fit  ${n} backends  ε ${String(epsilon).padStart(4)}  affinity ${String(affinity).padStart(2)}  hit ${(r.hitRate * 100).toFixed(1)} %  mean TTFT ${(r.meanTtftMs / 1000).toFixed(3)} s  P90 ${(r.ttftP90Ms / 1000).toFixed(2)} s  (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
        );
        return r;
      });
      const meanTtftMs = results.reduce((a, r) => a + r.meanTtftMs, 0) / results.length;
      return { affinity, epsilon, results, meanTtftMs };
    }),
  );
  const best = rows.reduce((a, b) => (b.meanTtftMs < a.meanTtftMs ? b : a));
  const first = training[0]?.atMs ?? 0;
  const last = training.at(-1)?.atMs ?? 0;
  return {
    requests: training.length,
    spanS: Math.round((last - first) / 1000),
    rows,
    chosen: { affinity: best.affinity, epsilon: best.epsilon },
  };
}

/** The grid as a markdown table: per pair, each pool size's hit rate and TTFT, and the pooled mean. */
export function gridTable(fit: AffinityFit): string {
  const head = SIZES.map((n) => `${n} backends: hit rate / mean / P90 TTFT (s)`);
  const lines = [
    `| ε | affinity | ${head.join(" | ")} | mean TTFT, both (ms) |`,
    `| ---: | ---: | ${SIZES.map(() => "---:").join(" | ")} | ---: |`,
  ];
  for (const row of fit.rows) {
    const cells = row.results.map(
      (r) =>
        `${(r.hitRate * 100).toFixed(1)} % / ${(r.meanTtftMs / 1000).toFixed(3)} / ${(r.ttftP90Ms / 1000).toFixed(2)}`,
    );
    const chosen = row.affinity === fit.chosen.affinity && row.epsilon === fit.chosen.epsilon;
    const mark = (s: string) => (chosen ? `**${s}**` : s);
    lines.push(
      `| ${mark(String(row.epsilon))} | ${mark(String(row.affinity))} | ${cells.join(" | ")} | ${mark(row.meanTtftMs.toFixed(1))} |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const started = performance.now();
  const fit = fitAffinity(loadHalves().training, console.log);
  console.log(`\n${gridTable(fit)}\n`);
  console.log(
    `fitted AFFINITY = ${fit.chosen.affinity}, ε = ${fit.chosen.epsilon} on the training half (${fit.requests} requests); the code has AFFINITY = ${AFFINITY} (src/gpu/pool-state.ts), ε = ${GPU_DEFAULTS.epsilon} (src/core/gpu-config.ts). ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
}

import type { ModelInfo } from "../../src/economics/models.ts";
import {
  anthropicAutomatic,
  breakEvenPings,
  naiveClient,
  noCaching,
  secondSight,
  writeAll,
} from "./baselines.ts";
import { type ReplayPolicy, replay } from "./engine.ts";
import { offlineOptimum } from "./optimum.ts";
import type { SuiteRow } from "./suite.ts";
import type { Trace } from "./trace.ts";

/**
 * The block model of shared/traces/README.md (bench/economics/engine.ts: 512-token blocks, no breakpoint
 * cap, no lookback, no minimum length) with its simple policies and the per-block optimum: only to check that
 * the reference figures are reproduced. No Stoker row: Stoker's figures come only from the worker's own path
 * (suite.ts), which these rules would flatter.
 */
export function referenceRows(trace: Trace, m: ModelInfo, lookback = 20): SuiteRow[] {
  const run = (p: ReplayPolicy) => replay(trace, p, { model: m });
  const n = breakEvenPings(m);
  const rows: [string, () => ReturnType<typeof replay>][] = [
    ["no_caching", () => run(noCaching())],
    ["naive", () => run(naiveClient(trace))],
    ["write_all_5m", () => run(writeAll("5m"))],
    ["automatic", () => run(anthropicAutomatic(lookback))],
    ["write_all_1h", () => run(writeAll("1h"))],
    ["fixed_pings", () => run(writeAll("5m", 3, "5m + fixed pings (every 5 min, up to 3 per idle period)"))],
    ["break_even_pings", () => run(writeAll("5m", n, `5m + pings up to break-even (${n})`))],
    ["second_sight", () => run(secondSight())],
  ];
  return [
    ...rows.map(([key, f]): SuiteRow => ({ key, kind: "baseline", result: f() })),
    { key: "optimum", kind: "bound", result: offlineOptimum(trace, m), blockPings: true },
  ];
}

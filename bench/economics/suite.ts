import type { ModelInfo } from "../../src/economics/models.ts";
import type { FamilyGaps } from "../../src/keepalive/gaps.ts";
import {
  anthropicAutomatic,
  breakEvenPings,
  naiveClient,
  noCaching,
  secondSight,
  writeAll,
} from "./baselines.ts";
import { type ReplayPolicy, type ReplayResult, replay } from "./engine.ts";
import { offlineOptimum } from "./optimum.ts";
import { PRICE_TABLES, type PriceTableName } from "./prices.ts";
import type { Row } from "./report.ts";
import { stokerPolicy } from "./stoker.ts";
import type { Trace } from "./trace.ts";

/**
 * The policies every replay compares, at one price table: the one code path behind `npm run bench:economics`
 * (bench/economics/run.ts) and the what-if command `npm run replay` (bench/replay/). Pure: it takes a loaded
 * trace and returns the replay results; reports and tables are the callers'.
 */

/**
 * `baseline`: a policy a client could run without Stoker (no caching included: it is always an option);
 * `stoker`: Stoker's policy; `stoker-variant`: a part of it, for the report; `bound`: knows the future.
 */
export type PolicyKind = "baseline" | "stoker" | "stoker-variant" | "bound";

/** A report row with a stable key (the `--json` output and the reference figures go by it). */
export interface SuiteRow extends Row {
  key: string;
  kind: PolicyKind;
}

/** A lapse where Stoker let blocks go: how long after their last real use, and how many tokens. */
export interface StopPoint {
  idleMs: number;
  tokens: number;
}

export interface Suite {
  prices: PriceTableName;
  rows: SuiteRow[];
  optimum: ReplayResult;
  stoker: ReplayResult;
  /** The family survival table Stoker learned over the run (to replay it again from a learned start). */
  stokerFamily: FamilyGaps;
  /** Every lapse at which Stoker stopped pinging (some or all of a group's blocks), in time order. */
  stops: StopPoint[];
}

export interface SuiteOptions {
  /** Anthropic's automatic mode: block boundaries checked before the breakpoint. */
  lookbackBlocks?: number;
  /** Add the optimum that is blind at first sight (a yardstick for the report, not a policy). */
  yardstick?: boolean;
  /** Called before each replay and once at the end (done === total). */
  onProgress?: (done: number, total: number, label: string) => void;
}

/** Anthropic's documented lookback: about 20 content blocks before a breakpoint. */
export const DEFAULT_LOOKBACK = 20;

/** Rows at one of the price tables of prices.ts. */
export function runSuite(trace: Trace, prices: PriceTableName, opts: SuiteOptions = {}): Suite {
  const model = PRICE_TABLES[prices].model;
  return prices === "anthropic" ? anthropicSuite(trace, model, opts) : openaiSuite(trace, model, opts);
}

interface Step {
  key: string;
  kind: PolicyKind;
  label: string;
  run: () => ReplayResult;
  bound?: boolean;
  blockPings?: boolean;
}

function runSteps(steps: readonly Step[], opts: SuiteOptions): SuiteRow[] {
  const rows = steps.map((s, i): SuiteRow => {
    opts.onProgress?.(i, steps.length, s.label);
    const row: SuiteRow = { key: s.key, kind: s.kind, result: s.run() };
    if (s.bound) row.bound = true;
    if (s.blockPings) row.blockPings = true;
    return row;
  });
  opts.onProgress?.(steps.length, steps.length, "done");
  return rows;
}

/** Stoker's policy, with every lapse it refuses (wholly or in part) written to `stops`. */
function watchedStoker(trace: Trace, model: ModelInfo, stops: StopPoint[]) {
  const policy = stokerPolicy(trace, { model });
  const watched: ReplayPolicy = {
    ...policy,
    ping(group, nowMs) {
      const k = policy.ping(group, nowMs);
      if (k < group.blocks.length) {
        let tokens = 0;
        for (let i = Math.max(0, k); i < group.blocks.length; i++) {
          tokens += trace.blockTokens[group.blocks[i] as number] ?? 0;
        }
        stops.push({ idleMs: nowMs - group.lastUseMs, tokens });
      }
      return k;
    },
  };
  return { policy, watched };
}

/** The result of the row with this key (throws when the suite has none). */
export function resultOf(rows: readonly SuiteRow[], key: string): ReplayResult {
  const row = rows.find((r) => r.key === key);
  if (!row) throw new Error(`bench/economics: no row ${key}`);
  return row.result;
}

/** Anthropic-style prices: admission matters (writes cost a premium), and so do pings. */
export function anthropicSuite(trace: Trace, m: ModelInfo, opts: SuiteOptions = {}): Suite {
  const run = (p: ReplayPolicy) => () => replay(trace, p, { model: m });
  const n = breakEvenPings(m);
  const lookback = opts.lookbackBlocks ?? DEFAULT_LOOKBACK;
  const stops: StopPoint[] = [];
  const stoker = watchedStoker(trace, m, stops);
  const steps: Step[] = [
    { key: "no_caching", kind: "baseline", label: "no caching", run: run(noCaching()) },
    { key: "naive", kind: "baseline", label: "naive client", run: run(naiveClient(trace)) },
    { key: "write_all_5m", kind: "baseline", label: "write every prefix, 5m", run: run(writeAll("5m")) },
    {
      key: "automatic",
      kind: "baseline",
      label: "automatic mode",
      run: run(anthropicAutomatic(lookback)),
    },
    { key: "write_all_1h", kind: "baseline", label: "write every prefix, 1h", run: run(writeAll("1h")) },
    {
      key: "fixed_pings",
      kind: "baseline",
      label: "fixed pings",
      run: run(writeAll("5m", 3, "5m + fixed pings (every 5 min, up to 3 per idle period)")),
    },
    {
      key: "break_even_pings",
      kind: "baseline",
      label: "break-even pings",
      run: run(writeAll("5m", n, `5m + pings up to break-even (${n})`)),
    },
    { key: "second_sight", kind: "baseline", label: "second sight", run: run(secondSight()) },
    {
      key: "stoker_admission_only",
      kind: "stoker-variant",
      label: "Stoker admission only",
      run: run(stokerPolicy(trace, { model: m, noPings: true, name: "Stoker admission only (no pings)" })),
    },
    {
      key: "stoker",
      kind: "stoker",
      label: "Stoker",
      run: run(stoker.watched),
    },
    ...(opts.yardstick
      ? [
          {
            key: "optimum_blind",
            kind: "bound" as const,
            label: "optimum blind at first sight",
            run: () => offlineOptimum(trace, m, "uncached"),
            bound: true,
            blockPings: true,
          },
        ]
      : []),
    {
      key: "optimum",
      kind: "bound",
      label: "offline optimum",
      run: () => offlineOptimum(trace, m),
      blockPings: true,
    },
  ];
  const rows = runSteps(steps, opts);
  return {
    prices: "anthropic",
    rows,
    optimum: resultOf(rows, "optimum"),
    stoker: resultOf(rows, "stoker"),
    stokerFamily: stoker.policy.family,
    stops,
  };
}

/**
 * OpenAI-style prices: every uncached prompt is cached automatically at no premium, so only pings are
 * decided. "No caching" is not an option an OpenAI client has: it is the price reference only.
 */
export function openaiSuite(trace: Trace, m: ModelInfo, opts: SuiteOptions = {}): Suite {
  const run = (p: ReplayPolicy) => () => replay(trace, p, { model: m });
  const n = breakEvenPings(m);
  const stops: StopPoint[] = [];
  const stoker = watchedStoker(trace, m, stops);
  const steps: Step[] = [
    {
      key: "no_caching",
      kind: "baseline",
      label: "no caching",
      run: () => ({ ...run(noCaching())(), policy: "no caching (price reference)" }),
    },
    {
      key: "automatic",
      kind: "baseline",
      label: "automatic caching",
      run: run(writeAll("5m", 0, "automatic caching, no pings")),
    },
    {
      key: "fixed_pings",
      kind: "baseline",
      label: "fixed pings",
      run: run(writeAll("5m", 3, "automatic + fixed pings (up to 3 per idle period)")),
    },
    {
      key: "break_even_pings",
      kind: "baseline",
      label: "break-even pings",
      run: run(writeAll("5m", n, `automatic + pings up to break-even (${n})`)),
    },
    {
      key: "stoker",
      kind: "stoker",
      label: "Stoker",
      run: () => ({
        ...replay(trace, stoker.watched, { model: m }),
        policy: "Stoker keepalive (learned online)",
      }),
    },
    {
      key: "optimum",
      kind: "bound",
      label: "offline optimum",
      run: () => offlineOptimum(trace, m),
      blockPings: true,
    },
  ];
  const rows = runSteps(steps, opts);
  return {
    prices: "openai",
    rows,
    optimum: resultOf(rows, "optimum"),
    stoker: resultOf(rows, "stoker"),
    stokerFamily: stoker.policy.family,
    stops,
  };
}

/** The cheapest row a client could have without Stoker. */
export function bestBaseline(suite: Suite): SuiteRow {
  let best: SuiteRow | null = null;
  for (const r of suite.rows) {
    if (r.kind === "baseline" && (!best || r.result.cost < best.result.cost)) best = r;
  }
  if (!best) throw new Error("bench/economics: a suite without baselines");
  return best;
}

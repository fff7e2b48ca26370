import { TTL_MS } from "../../src/economics/breakEven.ts";
import { modelInfo } from "../../src/economics/models.ts";
import type { ReplayResult } from "./engine.ts";
import { offlineOptimum } from "./optimum.ts";
import { PRICE_TABLES, type PriceTableName } from "./prices.ts";
import type { Row } from "./report.ts";
import type { Trace } from "./trace.ts";
import type { Mapping } from "./worker/bodies.ts";
import {
  anthropicClients,
  type ClientPolicy,
  foresightClient,
  openAIClients,
  replayClient,
} from "./worker/clients.ts";
import { replayWorker } from "./worker/stoker.ts";

/**
 * The policies every economics figure compares, at one price table: the one code path behind
 * `npm run bench:economics` (bench/economics/run.ts) and the what-if command `npm run replay`
 * (bench/replay/). Every row but the optimum sends real request bodies to the project's simulator in
 * process: the simple baselines mark their own bodies, Stoker's row is the worker's own path
 * (bench/economics/worker/stoker.ts). The optimum is the per-block bound of bench/economics/optimum.ts
 * (it knows the future and ignores the breakpoint cap and the lookback: a lower bound, not a policy).
 */

/** `baseline`: a policy a client could run without Stoker; `stoker`: the worker; `bound`: knows the future. */
export type PolicyKind = "baseline" | "stoker" | "bound";

/** A report row with a stable key (the `--json` output goes by it). */
export interface SuiteRow extends Row {
  key: string;
  kind: PolicyKind;
}

export interface Suite {
  prices: PriceTableName;
  mapping: Mapping;
  rows: SuiteRow[];
  optimum: ReplayResult;
  stoker: ReplayResult;
}

export interface SuiteOptions {
  /** How trace blocks become content blocks (default `block`). */
  mapping?: Mapping;
  /** Head blocks of a request that does not say (Mooncake: 1). */
  headFallback?: number;
  /** Add the optimum that is blind at first sight (a yardstick, not a policy). */
  yardstick?: boolean;
  /** Only these baselines (by key); all of them when absent. */
  baselines?: ReadonlySet<string>;
  /**
   * Add the worker as a tenant that turned 1h writes off (`allow1h: false`): what choosing the hour is worth
   * on the workload, where a first sight is written for it as insurance and where that insurance is wasted.
   */
  without1h?: boolean;
  /** Stoker's keepalive settings over the suite's (development: `try.ts --no-keepalive`). */
  keepalive?: { enabled?: boolean };
  /** Called before each replay and once at the end (done === total). */
  onProgress?: (done: number, total: number, label: string) => void;
}

/** The key of the row `without1h` adds. */
export const WITHOUT_1H = "stoker_no_1h";
/** The key of the foresight yardstick's row (`yardstick`, Anthropic, block mapping). */
export const FORESIGHT = "foresight_blind";

/** The model each price table stands for, by id: the simulator and Stoker's table both know it. */
export const SUITE_MODELS: Record<PriceTableName, string> = {
  anthropic: "claude-sonnet-4-5",
  openai: "gpt-5",
};

/** Rows at one of the price tables of prices.ts. */
export async function runSuite(
  trace: Trace,
  prices: PriceTableName,
  opts: SuiteOptions = {},
): Promise<Suite> {
  const api = prices;
  const model = SUITE_MODELS[prices];
  const info = modelInfo(model, undefined, api);
  const bound = PRICE_TABLES[prices].model;
  const mapping = opts.mapping ?? "block";
  const headFallback = opts.headFallback;
  const clients: ClientPolicy[] = (api === "anthropic" ? anthropicClients(info) : openAIClients(info)).filter(
    (c) => !opts.baselines || opts.baselines.has(c.key),
  );
  const stoker = (o: { name: string; answers?: boolean; cache?: { allow1h: boolean } }) =>
    replayWorker(trace, {
      api,
      mapping,
      model,
      headFallback,
      // A tenant with this much traffic sets a ping budget to match; the default ($5/day) would bind.
      keepalive: { maxUsdPerDay: 1e9, ...opts.keepalive },
      ...o,
    });
  type Step = {
    key: string;
    kind: PolicyKind;
    label: string;
    run: () => Promise<ReplayResult>;
    blockPings?: true;
  };
  const steps: Step[] = [
    ...clients.map(
      (c): Step => ({
        key: c.key,
        kind: "baseline",
        label: c.name,
        run: () => replayClient(trace, c, { api, mapping, model, modelInfo: info, headFallback }),
      }),
    ),
    {
      key: "stoker",
      kind: "stoker",
      label: "Stoker",
      run: () => stoker({ name: "Stoker (the worker's own path)" }),
    },
    // Where the workload says how answers end (agent loops with tools), what that signal is worth: the same
    // worker with the answers' ends withheld.
    ...(trace.requests.some((r) => r.answer !== undefined)
      ? [
          {
            key: "stoker_no_answers",
            kind: "stoker" as const,
            label: "Stoker, not told how answers end",
            run: () =>
              stoker({ answers: false, name: "Stoker, not told how answers end (tool call or reply)" }),
          },
        ]
      : []),
    ...(opts.without1h && api === "anthropic"
      ? [
          {
            key: WITHOUT_1H,
            kind: "stoker" as const,
            label: "Stoker, 1h writes off",
            run: () =>
              stoker({
                cache: { allow1h: false },
                name: "Stoker, a tenant with 1h writes off (`allow1h: false`)",
              }),
          },
        ]
      : []),
    // What knowing the future after a first sight buys under the breakpoints' rules (block mapping only).
    ...(opts.yardstick && api === "anthropic" && mapping === "block"
      ? [
          {
            key: FORESIGHT,
            kind: "bound" as const,
            label: "foresight after first sight",
            run: () =>
              replayClient(trace, foresightClient(trace, TTL_MS["5m"], TTL_MS["1h"]), {
                api,
                mapping,
                model,
                modelInfo: info,
                headFallback,
              }),
          },
        ]
      : []),
    ...(opts.yardstick && api === "anthropic"
      ? [
          {
            key: "optimum_blind",
            kind: "bound" as const,
            label: "optimum blind at first sight",
            run: async () => offlineOptimum(trace, bound, "uncached"),
            blockPings: true as const,
          },
        ]
      : []),
    {
      key: "optimum",
      kind: "bound",
      label: "offline optimum (per block)",
      run: async () => offlineOptimum(trace, bound),
      blockPings: true,
    },
  ];
  const rows: SuiteRow[] = [];
  for (const [i, s] of steps.entries()) {
    opts.onProgress?.(i, steps.length, s.label);
    const row: SuiteRow = { key: s.key, kind: s.kind, result: await s.run() };
    if (s.key === "optimum_blind") row.bound = true;
    if (s.blockPings) row.blockPings = true;
    rows.push(row);
  }
  opts.onProgress?.(steps.length, steps.length, "done");
  return { prices, mapping, rows, optimum: resultOf(rows, "optimum"), stoker: resultOf(rows, "stoker") };
}

/** The result of the row with this key (throws when the suite has none). */
export function resultOf(rows: readonly SuiteRow[], key: string): ReplayResult {
  const row = rows.find((r) => r.key === key);
  if (!row) throw new Error(`bench/economics: no row ${key}`);
  return row.result;
}

/** The cheapest row a client could have without Stoker. */
export function bestBaseline(suite: { rows: readonly SuiteRow[] }): SuiteRow {
  let best: SuiteRow | null = null;
  for (const r of suite.rows) {
    if (r.kind === "baseline" && (!best || r.result.cost < best.result.cost)) best = r;
  }
  if (!best) throw new Error("bench/economics: a suite without baselines");
  return best;
}

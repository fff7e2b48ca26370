import { PRICE_TABLES, type PriceTableName } from "../economics/prices.ts";
import { bestBaseline, type PolicyKind, runSuite, type Suite, type SuiteRow } from "../economics/suite.ts";
import type { LogTrace } from "./log.ts";

/**
 * What each policy would have cost a user's traffic, in USD: the suite of bench/economics (suite.ts, the
 * same code path as `npm run bench:economics`) run on their log, turned into figures, a text table and the
 * `--json` object. Pure.
 */

export interface PolicyFigures {
  name: string;
  kind: PolicyKind;
  cost_usd: number;
  /** Cost as a fraction of sending every token uncached. */
  cost_vs_no_caching: number;
  /** Prompt tokens read from cache / all prompt tokens. */
  hit_rate: number;
  pings: number;
  /** `requests`: ping requests (one per lapsing group); `blocks`: the optimum counts block refreshes. */
  pings_unit: "requests" | "blocks";
  ping_cost_usd: number;
}

export interface WhatIf {
  file: string;
  format: LogTrace["format"];
  prices: PriceTableName;
  price_table: { reference_model: string; usd_per_mtok_input: number; description: string };
  requests: number;
  input_tokens: number;
  duration_s: number;
  /** Body logs: requests per provider. */
  providers: LogTrace["providers"];
  lines: number;
  skipped_lines: number;
  /** The first skipped lines, with their 1-based numbers. */
  skipped: LogTrace["skipped"];
  /** Keyed by a stable policy key, in table order. */
  policies: Record<string, PolicyFigures>;
  totals: {
    no_caching_usd: number;
    stoker_usd: number;
    optimum_usd: number;
    best_baseline: { key: string; name: string; cost_usd: number };
    stoker_saves_vs_no_caching_usd: number;
    stoker_saves_vs_no_caching_pct: number;
    stoker_saves_vs_best_baseline_usd: number;
    stoker_saves_vs_best_baseline_pct: number;
    /** (no caching − Stoker) / (no caching − optimum). */
    stoker_share_of_optimum_savings: number;
  };
}

export interface WhatIfOptions {
  file: string;
  prices: PriceTableName;
  /** USD per million uncached input tokens (default: the price table's reference model). */
  usdPerMTok?: number;
  onProgress?: (done: number, total: number, label: string) => void;
}

/** Replays a log through every policy and prices the results. */
export async function whatIf(log: LogTrace, opts: WhatIfOptions): Promise<WhatIf> {
  const table = PRICE_TABLES[opts.prices];
  const suite = await runSuite(log.trace, opts.prices, { onProgress: opts.onProgress });
  return figures(log, suite, opts.file, opts.usdPerMTok ?? table.usdPerMTok);
}

/** Figures from a suite already run (the CLI and the tests both come through here). */
export function figures(log: LogTrace, suite: Suite, file: string, usdPerMTok: number): WhatIf {
  const trace = log.trace;
  const table = PRICE_TABLES[suite.prices];
  const uncachedUsd = (trace.totalInputTokens * usdPerMTok) / 1e6;
  const usd = (fraction: number): number => fraction * uncachedUsd;
  const policies: Record<string, PolicyFigures> = {};
  for (const row of suite.rows) policies[row.key] = policyFigures(row, usd);
  const none = policies.no_caching?.cost_usd ?? uncachedUsd;
  const stoker = usd(suite.stoker.cost);
  const optimum = usd(suite.optimum.cost);
  const best: SuiteRow = bestBaseline(suite);
  const bestUsd = usd(best.result.cost);
  const ratio = (a: number, b: number): number => (b === 0 ? 0 : a / b);
  const first = trace.requests[0]?.atMs ?? 0;
  return {
    file,
    format: log.format,
    prices: suite.prices,
    price_table: {
      reference_model: table.reference,
      usd_per_mtok_input: usdPerMTok,
      description: table.description,
    },
    requests: trace.requests.length,
    input_tokens: trace.totalInputTokens,
    duration_s: (trace.endMs - first) / 1000,
    providers: log.providers,
    lines: log.lines,
    skipped_lines: log.skippedCount,
    skipped: log.skipped,
    policies,
    totals: {
      no_caching_usd: none,
      stoker_usd: stoker,
      optimum_usd: optimum,
      best_baseline: { key: best.key, name: best.result.policy, cost_usd: bestUsd },
      stoker_saves_vs_no_caching_usd: none - stoker,
      stoker_saves_vs_no_caching_pct: 100 * ratio(none - stoker, none),
      stoker_saves_vs_best_baseline_usd: bestUsd - stoker,
      stoker_saves_vs_best_baseline_pct: 100 * ratio(bestUsd - stoker, bestUsd),
      stoker_share_of_optimum_savings: ratio(none - stoker, none - optimum),
    },
  };
}

function policyFigures(row: SuiteRow, usd: (fraction: number) => number): PolicyFigures {
  const r = row.result;
  return {
    name: r.policy,
    kind: row.kind,
    cost_usd: usd(r.cost),
    cost_vs_no_caching: r.cost,
    hit_rate: r.totalInputTokens > 0 ? r.readTokens / r.totalInputTokens : 0,
    pings: r.pings,
    pings_unit: row.blockPings ? "blocks" : "requests",
    ping_cost_usd: usd(r.pingCost),
  };
}

/** The `--json` text: the figures as one JSON object, numbers rounded to what they mean. */
export function toJson(w: WhatIf): string {
  const round = (_key: string, v: unknown): unknown =>
    typeof v === "number" && !Number.isInteger(v) ? Number(v.toPrecision(6)) : v;
  return JSON.stringify(w, round, 2);
}

const int = (x: number): string => Math.round(x).toLocaleString("en-US");
const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;

/** The text report: a table per policy and what Stoker saves. */
export function formatText(w: WhatIf): string {
  const digits = w.totals.no_caching_usd >= 100 ? 2 : 4;
  const money = (x: number): string =>
    `${x < 0 ? "-" : ""}$${Math.abs(x).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })}`;
  const head = ["policy", "cost", "× no caching", "token hit rate", "pings", "ping cost"];
  const body = Object.values(w.policies).map((p) => [
    p.name,
    money(p.cost_usd),
    p.cost_vs_no_caching.toFixed(3),
    pct(p.hit_rate),
    `${int(p.pings)}${p.pings_unit === "blocks" ? " (blocks)" : ""}`,
    money(p.ping_cost_usd),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] as string).length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join("  ")
      .trimEnd();
  const minutes = w.duration_s / 60;
  const what =
    w.format === "mooncake"
      ? "Mooncake trace (512-token blocks with chained ids)"
      : `request bodies (${Object.entries(w.providers)
          .map(([p, n]) => `${int(n)} ${p}`)
          .join(", ")}), prompt tokens estimated by Stoker's analyzers`;
  const t = w.totals;
  const saves = (usd: number, pctOf: number, against: string): string =>
    usd >= 0
      ? `saves ${money(usd)} (${pctOf.toFixed(1)} %) against ${against}`
      : `costs ${money(-usd)} (${(-pctOf).toFixed(1)} %) MORE than ${against}`;
  const skipped =
    w.skipped_lines > 0
      ? `${int(w.skipped_lines)} of ${int(w.lines)} lines skipped (bad lines are listed on stderr)`
      : `none of ${int(w.lines)} lines skipped`;
  return [
    `What-if replay of ${w.file}`,
    `  input:  ${what}`,
    `          ${int(w.requests)} requests over ${minutes < 120 ? `${minutes.toFixed(1)} min` : `${(minutes / 60).toFixed(1)} h`}, ${int(w.input_tokens)} prompt tokens; ${skipped}`,
    `  prices: ${w.prices} (${w.price_table.description}), at $${w.price_table.usd_per_mtok_input} per million input tokens (${w.price_table.reference_model})`,
    "",
    line(head),
    line(widths.map((n) => "-".repeat(n))),
    ...body.map(line),
    "",
    `Stoker ${saves(t.stoker_saves_vs_no_caching_usd, t.stoker_saves_vs_no_caching_pct, "no caching")},`,
    `and ${saves(t.stoker_saves_vs_best_baseline_usd, t.stoker_saves_vs_best_baseline_pct, `the best baseline ("${t.best_baseline.name}", ${money(t.best_baseline.cost_usd)})`)}.`,
    `The offline optimum (knows every future request) costs ${money(t.optimum_usd)}; Stoker captures ${pct(t.stoker_share_of_optimum_savings)} of its savings.`,
    "Replayed through the simulator: Stoker's row by the worker's own path, the baselines as clients marking their own bodies (bench/replay/README.md).",
    "",
  ].join("\n");
}

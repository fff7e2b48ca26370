import type { ReplayResult } from "./engine.ts";

/** One row of a report table: a replay result, and the reference figure it must reproduce, if any. */
export interface Row {
  result: ReplayResult;
  reference?: number;
  /** Pings are counted per block (the optimum has no prefixes to group them by). */
  blockPings?: boolean;
  /** A bound, not a policy: hit rate and pings are not meaningful. */
  bound?: boolean;
}

const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
const num = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "—");

/**
 * Modelled time to first token of one request: a fixed overhead, plus prefill of the uncached tokens at
 * 5,000 tokens/s, plus a small per-token cost for cached ones, calibrated so that a 100K-token prompt read
 * whole from cache takes 15 % of its uncached TTFT (20.3 s uncached, 3.05 s cached: 85 % lower).
 */
export const TTFT = {
  fixedS: 0.3,
  perUncachedS: 1 / 5000,
  perCachedS: (0.15 * (0.3 + 100_000 / 5000) - 0.3) / 100_000,
};

/** P50 and P90 of the modelled TTFT over a replay's requests (null when it has no per-request reads). */
export function ttftPercentiles(
  r: ReplayResult,
  inputTokens: readonly number[],
): { p50: number; p90: number } | null {
  const reads = r.requestReads;
  if (!reads) return null;
  const times = inputTokens.map(
    (n, j) => TTFT.fixedS + TTFT.perUncachedS * (n - (reads[j] ?? 0)) + TTFT.perCachedS * (reads[j] ?? 0),
  );
  times.sort((a, b) => a - b);
  const at = (q: number): number => times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)] ?? 0;
  return { p50: at(0.5), p90: at(0.9) };
}

/** Relative deviation of a reproduced figure from its reference. */
export function deviation(row: Row): number | null {
  return row.reference === undefined ? null : Math.abs(row.result.cost - row.reference) / row.reference;
}

/**
 * A markdown table: cost, × optimum, share of the optimum's savings, hit rate, pings, ping cost, modelled
 * TTFT P50 / P90 (when `inputTokens`, each request's prompt length in trace order, is given), reference.
 */
export function table(rows: readonly Row[], optimum: number, inputTokens?: readonly number[]): string {
  const head =
    `| policy | cost | × optimum | share of optimum savings | token hit rate | pings | ping cost |${inputTokens ? " TTFT P50 / P90 (s) |" : ""} reference |\n` +
    `|---|---:|---:|---:|---:|---:|---:|${inputTokens ? "---:|" : ""}---:|`;
  const lines = rows.map((row) => {
    const r = row.result;
    const share = (1 - r.cost) / (1 - optimum);
    const hit = row.bound ? "—" : pct(r.readTokens / r.totalInputTokens);
    const pings = row.bound ? "—" : `${num(r.pings)}${row.blockPings ? " (blocks)" : ""}`;
    const pingCost = row.bound || !Number.isFinite(r.pingCost) ? "—" : r.pingCost.toFixed(3);
    const dev = deviation(row);
    const ref =
      row.reference === undefined ? "" : `${row.reference.toFixed(3)} (${dev !== null ? pct(dev) : ""} off)`;
    const t = inputTokens && !row.bound ? ttftPercentiles(r, inputTokens) : null;
    const ttft = inputTokens ? ` ${t ? `${t.p50.toFixed(2)} / ${t.p90.toFixed(2)}` : "—"} |` : "";
    return `| ${r.policy} | ${r.cost.toFixed(3)} | ${(r.cost / optimum).toFixed(3)} | ${pct(share)} | ${hit} | ${pings} | ${pingCost} |${ttft} ${ref} |`;
  });
  return [head, ...lines].join("\n");
}

/** A compact markdown table (cost, × optimum, share of the optimum's savings, hit rate, pings, ping cost). */
export function compactTable(rows: readonly Row[], optimum: number): string {
  const head =
    "| policy | cost | × optimum | share of optimum savings | token hit rate | pings | ping cost |\n" +
    "|---|---:|---:|---:|---:|---:|---:|";
  const lines = rows.map((row) => {
    const r = row.result;
    const share = (1 - r.cost) / (1 - optimum);
    const pings = `${num(r.pings)}${row.blockPings ? " (blocks)" : ""}`;
    return `| ${r.policy} | ${r.cost.toFixed(3)} | ${(r.cost / optimum).toFixed(3)} | ${pct(share)} | ${pct(r.readTokens / r.totalInputTokens)} | ${pings} | ${r.pingCost.toFixed(3)} |`;
  });
  return [head, ...lines].join("\n");
}

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

/** Relative deviation of a reproduced figure from its reference. */
export function deviation(row: Row): number | null {
  return row.reference === undefined ? null : Math.abs(row.result.cost - row.reference) / row.reference;
}

/** A markdown table: cost, × optimum, share of the optimum's savings, hit rate, pings, ping cost, reference. */
export function table(rows: readonly Row[], optimum: number): string {
  const head =
    "| policy | cost | × optimum | share of optimum savings | token hit rate | pings | ping cost | reference |\n" +
    "|---|---:|---:|---:|---:|---:|---:|---:|";
  const lines = rows.map((row) => {
    const r = row.result;
    const share = (1 - r.cost) / (1 - optimum);
    const hit = row.bound ? "—" : pct(r.readTokens / r.totalInputTokens);
    const pings = row.bound ? "—" : `${num(r.pings)}${row.blockPings ? " (blocks)" : ""}`;
    const pingCost = row.bound || !Number.isFinite(r.pingCost) ? "—" : r.pingCost.toFixed(3);
    const dev = deviation(row);
    const ref =
      row.reference === undefined ? "" : `${row.reference.toFixed(3)} (${dev !== null ? pct(dev) : ""} off)`;
    return `| ${r.policy} | ${r.cost.toFixed(3)} | ${(r.cost / optimum).toFixed(3)} | ${pct(share)} | ${hit} | ${pings} | ${pingCost} | ${ref} |`;
  });
  return [head, ...lines].join("\n");
}

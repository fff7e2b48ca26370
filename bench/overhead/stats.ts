import { mulberry32 } from "../economics/synthetic.ts";

// Percentiles by the nearest-rank method: p99 of 200 samples is the 198th smallest, an observed value.

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

export interface Summary {
  p50: number;
  p99: number;
  mean: number;
  n: number;
}

export function summarize(values: readonly number[]): Summary {
  return { p50: percentile(values, 50), p99: percentile(values, 99), mean: mean(values), n: values.length };
}

/** Element-wise `a[i] - b[i]`: per-pair differences of two interleaved arms. */
export function pairDiff(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, i) => x - (b[i] ?? Number.NaN));
}

/**
 * A bootstrap interval of the p50 (nearest rank) of `values`: the `level` share of the p50s of `resamples`
 * resamples of them with replacement, between its two tails. For paired differences of two builds, an
 * interval that holds 0 means this run does not tell them apart at p50.
 */
export function p50Interval(
  values: readonly number[],
  level = 0.95,
  resamples = 2000,
  seed = 1,
): [number, number] {
  if (values.length === 0) return [Number.NaN, Number.NaN];
  // Seeded: the same resamples, so the same interval, on every report of a run.
  const next = mulberry32(seed);
  const n = values.length;
  const sample = new Float64Array(n);
  const p50s = new Float64Array(resamples);
  const rank = Math.max(1, Math.ceil(n / 2));
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) sample[i] = values[Math.floor(next() * n)] as number;
    sample.sort();
    p50s[r] = sample[rank - 1] as number;
  }
  p50s.sort();
  const tail = (1 - level) / 2;
  const at = (q: number) => p50s[Math.min(resamples - 1, Math.max(0, Math.floor(q * resamples)))] as number;
  return [at(tail), at(1 - tail)];
}

import { describe, expect, it } from "vitest";
import { p50Interval, percentile } from "../../bench/overhead/stats.ts";

// The interval `bench/overhead/ab.ts` puts beside each p50 of two builds' per-pair differences.

/** `n` draws of a seeded normal (Box–Muller) around `mean`, as per-pair differences in ms. */
function draws(n: number, mean: number, sd: number, seed: number): number[] {
  let s = seed;
  const u = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s + 1) / 2147483649;
  };
  return Array.from(
    { length: n },
    () => mean + sd * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()),
  );
}

describe("p50Interval", () => {
  it("holds the sample's p50 and is the same for the same values", () => {
    const d = draws(300, 0.2, 1, 7);
    const [lo, hi] = p50Interval(d);
    expect(lo).toBeLessThanOrEqual(percentile(d, 50));
    expect(hi).toBeGreaterThanOrEqual(percentile(d, 50));
    expect(p50Interval(d)).toEqual([lo, hi]);
  });

  it("narrows as the pairs grow, about as 1/sqrt(n)", () => {
    const width = (n: number) => {
      const [lo, hi] = p50Interval(draws(n, 0, 1, 11));
      return hi - lo;
    };
    const w300 = width(300);
    const w3000 = width(3000);
    // A normal's median has a standard error of 1.2533 sd / sqrt(n): about 0.28 wide at n=300 (95 %).
    expect(w300).toBeGreaterThan(0.15);
    expect(w300).toBeLessThan(0.45);
    expect(w3000).toBeLessThan(w300 / 2);
  });

  it("holds the true p50 in about 95 % of runs, and 0 rarely when the builds differ by 0.3 sd", () => {
    let covered = 0;
    let zeroIn = 0;
    for (let run = 0; run < 100; run++) {
      const [lo, hi] = p50Interval(draws(300, 0, 1, 1000 + run), 0.95, 400, run + 1);
      if (lo <= 0 && 0 <= hi) covered++;
      const [slo, shi] = p50Interval(draws(300, 0.3, 1, 5000 + run), 0.95, 400, run + 1);
      if (slo <= 0 && 0 <= shi) zeroIn++;
    }
    expect(covered).toBeGreaterThanOrEqual(88);
    expect(zeroIn).toBeLessThan(30);
  });

  it("is one point for a constant and NaN for nothing", () => {
    expect(p50Interval([0.4, 0.4, 0.4])).toEqual([0.4, 0.4]);
    expect(p50Interval([]).every(Number.isNaN)).toBe(true);
  });
});

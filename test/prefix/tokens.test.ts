import { countTokens as cl100k } from "gpt-tokenizer/encoding/cl100k_base";
import { countTokens as o200k } from "gpt-tokenizer/encoding/o200k_base";
import { describe, expect, it } from "vitest";
import { CORPUS } from "../../bench/engine/corpus.ts";
import {
  calibrate,
  calibrated,
  estimateTextTokens,
  SCALE,
  textFeatures,
  WEIGHTS,
} from "../../src/prefix/tokens.ts";

function errors(count: (s: string) => number, family: "o200k" | "cl100k", sizes: readonly number[]) {
  const rows: { name: string; size: number; err: number; estimate: number; actual: number }[] = [];
  for (const [name, text] of Object.entries(CORPUS)) {
    for (const size of sizes) {
      for (let at = 0; at + size <= text.length && at < 40 * size; at += size) {
        const piece = text.slice(at, at + size);
        const estimate = estimateTextTokens(piece, family);
        const actual = count(piece);
        rows.push({ name, size, err: estimate / actual - 1, estimate, actual });
      }
    }
  }
  return rows;
}

const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))] ?? 0;

describe("token estimates against gpt-tokenizer (held-out text)", () => {
  for (const [family, count] of [
    ["o200k", o200k],
    ["cl100k", cl100k],
  ] as const) {
    it(`${family}: per-piece error is small and the total is close`, () => {
      const rows = errors(count, family, [400, 4000, 20000]);
      const abs = rows.map((r) => Math.abs(r.err));
      const byName: Record<string, string> = {};
      for (const name of Object.keys(CORPUS)) {
        const mine = rows.filter((r) => r.name === name).map((r) => r.err);
        byName[name] =
          `median ${(quantile(mine, 0.5) * 100).toFixed(1)}%, p90 |err| ${(quantile(mine.map(Math.abs), 0.9) * 100).toFixed(1)}%`;
      }
      // What a request's cumulative estimate sees: the sum over its pieces.
      const total = rows.reduce((s, r) => s + r.estimate, 0) / rows.reduce((s, r) => s + r.actual, 0) - 1;
      console.log(
        family,
        `pieces=${rows.length}`,
        `median |err|=${(quantile(abs, 0.5) * 100).toFixed(1)}%`,
        `p90 |err|=${(quantile(abs, 0.9) * 100).toFixed(1)}%`,
        `sum of pieces ${(total * 100).toFixed(1)}%`,
        byName,
      );
      expect(quantile(abs, 0.5)).toBeLessThan(0.12);
      expect(quantile(abs, 0.9)).toBeLessThan(0.3);
      expect(Math.abs(total)).toBeLessThan(0.1);
    });
  }

  it("calibrates toward the provider's reported counts", () => {
    let c = calibrate(undefined, 1300, 1000);
    expect(c.ratio).toBeCloseTo(1.3);
    for (let i = 0; i < 20; i++) c = calibrate(c, 120_000, 100_000);
    expect(c.ratio).toBeGreaterThan(1.19);
    expect(c.ratio).toBeLessThan(1.25);
    expect(calibrated(1000, c)).toBe(Math.round(1000 * c.ratio));
    expect(calibrate(c, 0, 100)).toBe(c);
  });
});

describe("an estimate is the features dotted with the family's weights", () => {
  it("is the same for short, long (sampled), non-ASCII and surrogate-pair text, in every family", () => {
    let seed = 11;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const alphabet = [...'abc XYZ 019 \n\t.,;{}"\\日本語한국어Ωжё😀🎉'];
    const texts = [...Object.values(CORPUS)];
    for (let k = 0; k < 3000; k++) {
      const n = Math.floor(rnd() ** 3 * 3000);
      texts.push(Array.from({ length: n }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join(""));
    }
    let compared = 0;
    for (const text of texts)
      for (const family of ["o200k", "cl100k", "claude", "claude-2026"] as const) {
        if (text.length <= 4) continue;
        const w = WEIGHTS[family === "o200k" ? "o200k" : "cl100k"];
        const t = textFeatures(text).reduce((sum, f, i) => sum + (w[i] as number) * f, 0);
        expect(estimateTextTokens(text, family)).toBe(Math.max(1, Math.round(t * SCALE[family])));
        compared++;
      }
    expect(compared).toBeGreaterThan(10_000);
  });
});

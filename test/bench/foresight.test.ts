import { describe, expect, it } from "vitest";
import { FORESIGHT, resultOf, runSuite } from "../../bench/economics/suite.ts";
import { headsBeforeFirstReturn } from "../../bench/economics/timeline.ts";
import { type TraceLine, traceFromLines } from "../../bench/economics/trace.ts";

// The economics report's yardstick rows and counts (bench/economics/): the client that knows the future after a
// block's first use, replayed through the simulator, and how many heads a workload sends before any returns.

const MIN = 60_000;
const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);
const line = (timestamp: number, hash_ids: number[]): TraceLine => ({
  timestamp,
  hash_ids,
  input_length: hash_ids.length * 512,
  output_length: 50,
});

describe("economics yardsticks", () => {
  it("counts the heads first sent before any head was sent again", () => {
    const trace = traceFromLines([
      line(0, [0, 1, 2]),
      line(1_000, [10, 11, 12]),
      line(2_000, [0, 1, 3]),
      line(3_000, [20, 21, 22]),
    ]);
    expect(headsBeforeFirstReturn(trace, 1)).toEqual({ before: 2, heads: 3, beforeTokens: 2 * 512 });
    // With the first two blocks as the head, the third request's head (0, 1) is the first's: still 2 before.
    expect(headsBeforeFirstReturn(trace, 2)).toEqual({ before: 2, heads: 3, beforeTokens: 4 * 512 });
    expect(headsBeforeFirstReturn(traceFromLines([line(0, [0, 1]), line(1, [5, 6])]), 1)).toEqual({
      before: 2,
      heads: 2,
      beforeTokens: 2 * 512,
    });
  });

  it("writes a prefix it has seen when it comes back within 5 minutes, and reads it", async () => {
    // One conversation whose every turn comes a minute after the last, each adding two blocks.
    const trace = traceFromLines(range(0, 6).map((k) => line(k * MIN, range(0, 6 + 2 * k))));
    const suite = await runSuite(trace, "anthropic", {
      yardstick: true,
      baselines: new Set(["no_caching", "second_sight"]),
    });
    const foresight = resultOf(suite.rows, FORESIGHT);
    expect(foresight.readTokens).toBeGreaterThan(0);
    expect(foresight.cost).toBeLessThan(resultOf(suite.rows, "no_caching").cost);
    expect(foresight.cost).toBeLessThanOrEqual(resultOf(suite.rows, "second_sight").cost);
    // Never cheaper than the optimum that is blind at first sight, which ignores the breakpoints' rules.
    expect(foresight.cost).toBeGreaterThanOrEqual(resultOf(suite.rows, "optimum_blind").cost - 1e-9);
  });

  it("writes nothing where no prefix comes back within the hour, where second sight still writes", async () => {
    const trace = traceFromLines(range(0, 4).map((k) => line(k * 90 * MIN, range(0, 6 + 2 * k))));
    const suite = await runSuite(trace, "anthropic", {
      yardstick: true,
      baselines: new Set(["second_sight"]),
    });
    const foresight = resultOf(suite.rows, FORESIGHT);
    expect(foresight.write5mTokens + foresight.write1hTokens).toBe(0);
    const second = resultOf(suite.rows, "second_sight");
    expect(second.write5mTokens).toBeGreaterThan(0);
    expect(foresight.cost).toBeLessThan(second.cost);
  });
});

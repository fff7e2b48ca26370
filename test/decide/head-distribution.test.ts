import { describe, expect, it } from "vitest";
import { emptyFamily, noteReturnIn, noteSurvived } from "../../src/decide/gaps.ts";
import { HEAD_PRIOR_H, hazardsOf, headDistribution, PRIOR_WEIGHT } from "../../src/decide/hazard.ts";

describe("a head's return distribution from the heads table", () => {
  it("counts each head's window once: the table's class shrunk straight to the scaled prior", () => {
    const heads = emptyFamily();
    // Three new heads whose first window closed without a return, one that came back in it.
    noteSurvived(heads, 1, 0, 3);
    noteReturnIn(heads, 1, 0);
    const prior = (HEAD_PRIOR_H[0] as readonly number[])[0] as number;
    // scaledPrior: 1 return seen where the prior expected 4 × prior, each with PRIOR_WEIGHT of the prior's own.
    const scaled = (prior * (1 + PRIOR_WEIGHT)) / (4 * prior + PRIOR_WEIGHT);
    const once = (1 + PRIOR_WEIGHT * scaled) / (4 + PRIOR_WEIGHT);
    // Pooling the use class's turn classes first would shrink the same four windows twice (a head's uses are
    // its turns, so the pool is the class itself): (1 + W × once) / (4 + W), further from the prior.
    const twice = (1 + PRIOR_WEIGHT * once) / (4 + PRIOR_WEIGHT);
    const h0 = hazardsOf(headDistribution(heads, 1, []))[0] as number;
    expect(h0).toBeCloseTo(once, 9);
    expect(Math.abs(h0 - twice)).toBeGreaterThan(0.01);
  });
});

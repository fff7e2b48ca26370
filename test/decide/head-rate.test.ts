import { describe, expect, it } from "vitest";
import { emptyFamily, noteFirstWindow, noteReturnIn, noteSurvived } from "../../src/decide/gaps.ts";
import { headsExposure, newHeadLapse } from "../../src/decide/head-rate.ts";

describe("how fast a tenant's heads come back, as a rate", () => {
  it("counts a return up to where in its window it came, a closed window whole", () => {
    const t = emptyFamily();
    // Two heads back after 20 seconds (the first fifth of the window), one whose window closed without a return.
    for (let k = 0; k < 2; k++) {
      noteReturnIn(t, 1, 0);
      noteFirstWindow(t, 20_000);
    }
    noteSurvived(t, 1, 0);
    const e = headsExposure(t);
    expect(e.returns).toBe(2);
    expect(e.windows).toBeCloseTo(1 + 2 * 0.1, 9);
  });

  it("makes a lapse less likely the more returns the same time at risk holds, and more likely the longer the wait", () => {
    const lapse = (returns: number, windows: number) => newHeadLapse({ returns, windows }) ?? Number.NaN;
    const lapses = [2, 5, 10, 20].map((returns) => lapse(returns, 1));
    for (let i = 1; i < lapses.length; i++) expect(lapses[i]).toBeLessThan(lapses[i - 1] as number);
    expect(lapse(5, 5)).toBeGreaterThan(lapse(5, 1));
    for (const x of lapses) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThanOrEqual(1);
    }
  });

  it("leaves a new tenant at the prior: a lapse within the hour likely enough that 1h pays", () => {
    // hourOverFive: 1h pays above a lapse chance of (2 - 1.25) / (0.9 + 2 - 1) ≈ 0.39 at Sonnet's prices.
    expect(newHeadLapse({ returns: 0, windows: 0 })).toBeGreaterThan(0.6);
  });

  it("is near nothing once heads come back within seconds, hundreds of times", () => {
    expect(newHeadLapse({ returns: 500, windows: 5 })).toBeLessThan(0.01);
  });

  it("says nothing below one use per window, where the windows see the heads' returns as they close", () => {
    expect(newHeadLapse({ returns: 2, windows: 4 })).toBeUndefined();
    expect(newHeadLapse({ returns: 0, windows: 200 })).toBeUndefined();
    expect(newHeadLapse({ returns: 4, windows: 4 })).toBeDefined();
  });
});

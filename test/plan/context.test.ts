import { describe, expect, it } from "vitest";
import { DEFAULT_MODELS } from "../../src/economics/models.ts";
import { planContext } from "../../src/plan/context.ts";
import { DEFAULT_CACHE_SETTINGS, resolveCacheSettings } from "../../src/plan/settings.ts";

describe("planContext", () => {
  it("maps the tenant's settings, the model table, the family rate and the calibration", () => {
    const calibration = { ratio: 1.3, weight: 4000 };
    const ctx = planContext({
      nowMs: 5,
      settings: { allow1h: false, disabled: true, retention24h: true, geminiExplicit: true },
      models: DEFAULT_MODELS,
      familyRatePerMin: 20,
      calibration,
    });
    expect(ctx).toEqual({
      nowMs: 5,
      tenant: { allowRetention24h: true, allow1h: false, disabled: true },
      familyRatePerMin: 20,
      models: DEFAULT_MODELS,
      calibration,
    });
  });

  it("reads what is unknown or unusable as neutral: rate 0, no calibration", () => {
    for (const [rate, calibration] of [
      [undefined, undefined],
      [Number.NaN, { ratio: Number.NaN, weight: 10 }],
      [-3, { ratio: 2, weight: 0 }],
      [Number.POSITIVE_INFINITY, { ratio: 0, weight: 10 }],
    ] as const) {
      const ctx = planContext({
        nowMs: 0,
        settings: DEFAULT_CACHE_SETTINGS,
        models: DEFAULT_MODELS,
        familyRatePerMin: rate,
        calibration,
      });
      expect(ctx.familyRatePerMin).toBe(0);
      expect(ctx.calibration).toBeUndefined();
    }
  });

  it("resolves stored settings over the defaults, booleans only", () => {
    expect(DEFAULT_CACHE_SETTINGS).toEqual({
      allow1h: true,
      disabled: false,
      retention24h: false,
      geminiExplicit: true,
    });
    expect(resolveCacheSettings({ retention24h: true, allow1h: "no", other: true })).toEqual({
      allow1h: true,
      disabled: false,
      retention24h: true,
      geminiExplicit: true,
    });
    expect(
      resolveCacheSettings(null, {
        allow1h: false,
        disabled: true,
        retention24h: false,
        geminiExplicit: false,
      }),
    ).toEqual({
      allow1h: false,
      disabled: true,
      retention24h: false,
      geminiExplicit: false,
    });
  });
});

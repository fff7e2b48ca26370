import { describe, expect, it } from "vitest";
import {
  decideCreate,
  decideKeep,
  type ExplicitCacheInput,
  keepBreakEvenPerHour,
  returnsPerHour,
} from "../../src/decide/gemini.ts";
import {
  chooseCreation,
  chooseDeletion,
  chooseExtension,
  deletionDueAt,
  implicitShare,
  MIN_RETURNS,
} from "../../src/decide/gemini-policy.ts";
import { DEFAULT_MODELS, type ModelInfo } from "../../src/economics/models.ts";

const MODEL = "gemini-2.5-flash";
const FLASH = DEFAULT_MODELS[MODEL] as ModelInfo;
const PRO = DEFAULT_MODELS["gemini-2.5-pro"] as ModelInfo;

const base = (over: Partial<ExplicitCacheInput> = {}): ExplicitCacheInput => ({
  tokens: 100_000,
  model: FLASH,
  returnsPerHour: 10,
  implicitHitRate: 0,
  periodHours: 1,
  ...over,
});

describe("Gemini explicit caches: the decision (rent or buy, storage included)", () => {
  it("keeps a cache exactly while returns pay its storage: 2.5 Flash breaks even at 1.00 / (0.9 x 0.30) = 3.70 returns/h", () => {
    const even = keepBreakEvenPerHour(FLASH);
    expect(even).toBeCloseTo(1 / (0.9 * 0.3), 9);
    expect(decideKeep(base({ returnsPerHour: even * 1.01 })).action).toBe("extend");
    expect(decideKeep(base({ returnsPerHour: even * 0.99 })).action).toBe("delete");
    // 2.5 Pro: $4.50 storage against a $1.25 input price: 4.5 / (0.9 x 1.25) = 4 returns/h.
    expect(keepBreakEvenPerHour(PRO)).toBeCloseTo(4, 9);
    // Returns the implicit cache would have served anyway do not pay for storage.
    expect(keepBreakEvenPerHour(FLASH, 0.5)).toBeCloseTo(2 * even, 9);
  });

  it("creates only when the period's returns also pay the creation: 1h on 2.5 Flash needs (0.30 + 1.00) / 0.27 = 4.81 returns", () => {
    const need = (0.3 + 1) / (0.9 * 0.3);
    const above = decideCreate(base({ returnsPerHour: need * 1.01 }));
    expect(above.action).toBe("create");
    expect(above.deltaUsd).toBeLessThan(0);
    expect(decideCreate(base({ returnsPerHour: need * 0.99 })).action).toBe("skip");
    // Exact figure: 100k tokens, 10 returns in the hour: 0.03 + 0.10 − 10 × 0.9 × 0.03 = −0.14 USD.
    expect(decideCreate(base()).deltaUsd).toBeCloseTo(0.03 + 0.1 - 10 * 0.9 * 0.03, 9);
  });

  it("never creates below the model minimum, nor for a model without storage prices", () => {
    expect(decideCreate(base({ tokens: 2047, returnsPerHour: 1000 })).reason).toBe("below-minimum");
    const claude = DEFAULT_MODELS["claude-sonnet-4-5"] as ModelInfo;
    expect(decideCreate(base({ model: claude, returnsPerHour: 1000 })).action).toBe("skip");
  });

  it("estimates returns per hour from the prefix's own history, shrunk toward the family and decayed by silence", () => {
    const h = 3_600_000;
    // 11 uses in 2 hours, no prior: 10 returns / 2 h.
    expect(returnsPerHour(11, 0, 2 * h, 2 * h, 0)).toBeCloseTo(5, 9);
    // One use and a family rate of 6/h: the prior alone, 2 returns over 2/6 h plus the 1 h observed.
    expect(returnsPerHour(1, 0, h, h, 6)).toBeCloseTo(2 / (2 / 6 + 1), 9);
    // The same, silent for the whole hour (longer than the 40 min mean gap): one return per hour at most.
    expect(returnsPerHour(1, 0, 0, h, 6)).toBeCloseTo(1, 9);
    // Silent for 3 h after a 5/h history: at most one return per 3 h.
    expect(returnsPerHour(11, 0, 2 * h, 5 * h, 0)).toBeCloseTo(1 / 3, 9);
  });
});

describe("Gemini explicit caches: the worker's choice (decide/gemini-policy.ts)", () => {
  const h = 3_600_000;
  const candidate = [{ contents: 1, hash: "hash-of-the-document", tokens: 30_000 }];
  // `seen` returns at a steady rate over the last hour, the last one now.
  const history = (perHour: number) => () => ({ seen: perHour, firstSeen: 0 });
  const choose = (model: ModelInfo, perHour: number, read = 0) =>
    chooseCreation(candidate, history(perHour), read, 1, model, h, Number.POSITIVE_INFINITY);

  it("counts returns within the implicit cache's assumed 5-minute lifetime as the implicit cache's", () => {
    expect(implicitShare(12)).toBeCloseTo(1 - Math.exp(-1), 9);
    expect(implicitShare(0)).toBe(0);
  });

  it("never creates on 2.5 Flash (storage $1.00 against $0.30 input: λ·e^(−λ/12) peaks at 4.4 < 4.8 returns/h)", () => {
    for (const perHour of [2, 5, 8, 12, 20, 40, 100])
      expect(choose(FLASH, perHour), `${perHour}/h`).toBeNull();
  });

  it("creates on 3 Pro where returns the implicit cache misses pay creation plus storage, and not below", () => {
    const pro3 = DEFAULT_MODELS["gemini-3-pro"] as ModelInfo;
    expect(choose(pro3, 10)?.contents).toBe(1); // (1 − q)·λ = 4.3 > (2 + 4.5) / 1.8 = 3.6
    expect(choose(pro3, 3)).toBeNull();
    expect(choose(pro3, 60)).toBeNull(); // the implicit cache serves nearly every return
    expect(choose(pro3, 10, 30_000)).toBeNull(); // it served this very request
    expect(chooseCreation(candidate, history(10), 0, 1, pro3, h, 0.01)).toBeNull(); // over the budget
    // A single earlier sighting (one gap) is not evidence enough, however short the gap.
    const once = () => ({ seen: 1, firstSeen: h - 6 * 60_000 });
    expect(chooseCreation(candidate, once, 0, 1, pro3, h, Number.POSITIVE_INFINITY)).toBeNull();
    expect(MIN_RETURNS).toBe(2);
  });

  it("extends only with less than half an hour left and returns that pay storage", () => {
    const pro3 = DEFAULT_MODELS["gemini-3-pro"] as ModelInfo;
    const cache = { tokens: 30_000, expireAt: h + 20 * 60_000 };
    expect(chooseExtension(cache, { seen: 6, firstSeen: 0 }, pro3, h, Number.POSITIVE_INFINITY)).toBe(true);
    expect(
      chooseExtension(
        { ...cache, expireAt: h + 40 * 60_000 },
        { seen: 6, firstSeen: 0 },
        pro3,
        h,
        Number.POSITIVE_INFINITY,
      ),
    ).toBe(false);
    expect(chooseExtension(cache, { seen: 2, firstSeen: 0 }, pro3, h, Number.POSITIVE_INFINITY)).toBe(false);
  });

  it("deletes a cache once its prefix's returns no longer pay the storage left, not before", () => {
    const pro3 = DEFAULT_MODELS["gemini-3-pro"] as ModelInfo;
    const MIN = 60_000;
    // Created at 12 minutes and extended at 48 to expire at 108; 9 requests from 0 to 48 minutes (the e2e
    // test's story). Created again, it would cost its tokens at the input price: a deletion must spare more.
    const cache = { tokens: 6_000, expireAt: 108 * MIN, lastSeen: 48 * MIN };
    const seen = { seen: 9, firstSeen: 0 };
    expect(chooseDeletion(cache, seen, pro3, 60 * MIN)).toBe(false);
    expect(chooseDeletion(cache, seen, pro3, 100 * MIN)).toBe(true);
    const due = deletionDueAt(cache, seen, pro3, 48 * MIN) ?? 0;
    // 8 returns over the time since the first request, capped by the silence once it is 3 mean gaps long,
    // fall below the rate at which storage left beats the returns' savings plus the re-creation risk at
    // about 92 minutes.
    expect(due).toBeGreaterThan(85 * MIN);
    expect(due).toBeLessThan(98 * MIN);
    expect(chooseDeletion(cache, seen, pro3, due - 2000)).toBe(false);
    expect(chooseDeletion(cache, seen, pro3, due)).toBe(true);
    // The first story of the e2e test (4 requests to 18 minutes, expiring at 72): three returns in 18 minutes
    // make a return before the expiry likely enough that re-creating would cost more than the storage left.
    expect(
      deletionDueAt(
        { tokens: 6_000, expireAt: 72 * MIN, lastSeen: 18 * MIN },
        { seen: 4, firstSeen: 0 },
        pro3,
        18 * MIN,
      ),
    ).toBeNull();
    // A new request at 70 minutes moves it past the expiry; on 2.5 Flash (storage dear against its input
    // price) it comes sooner.
    expect(
      deletionDueAt({ ...cache, lastSeen: 70 * MIN }, { seen: 10, firstSeen: 0 }, pro3, 70 * MIN),
    ).toBeNull();
    const flashDue = deletionDueAt(cache, seen, FLASH, 48 * MIN);
    expect(flashDue).not.toBeNull();
    expect(flashDue ?? Number.POSITIVE_INFINITY).toBeLessThan(due);
    // Nothing is due once too little is left to spare.
    expect(deletionDueAt({ ...cache, expireAt: 19 * MIN }, seen, pro3, 18 * MIN)).toBeNull();
  });
});

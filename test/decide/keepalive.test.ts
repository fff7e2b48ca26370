import { describe, expect, it } from "vitest";
import {
  classOf,
  decodeFamily,
  decodeOwn,
  emptyFamily,
  emptyOwn,
  encodeFamily,
  encodeOwn,
  type FamilyGaps,
  type GapHistory,
  noteOwnGap,
  noteReturn,
  noteSurvived,
  turnClass,
  WINDOW_MS,
  WINDOWS,
  windowOf,
} from "../../src/decide/gaps.ts";
import { familyHazards, priorQ, returnDistribution } from "../../src/decide/hazard.ts";
import { decideKeepalive, decidePing, type PingCandidate } from "../../src/decide/keepalive.ts";
import { DEFAULT_KEEPALIVE, type KeepaliveSettings } from "../../src/decide/keepalive-settings.ts";
import { notePingRead, PING_READ_PRIOR, type PingReads, readChance } from "../../src/decide/ping-reads.ts";
import { modelInfo } from "../../src/economics/models.ts";

const MIN = 60_000;

/**
 * A family table learned from a known population, without randomness: for each listed count k (a prefix
 * used k times in a conversation of k turns), `n` prefixes of which a share `q[j]` comes back in window j (at
 * its middle) and the rest never within the hour.
 */
function learnedFamily(byUses: Record<number, readonly number[]>, n = 2000): FamilyGaps {
  const family = emptyFamily();
  for (const [key, q] of Object.entries(byUses)) {
    const uses = { uses: Number(key), turns: Number(key) };
    const back = q.map((share) => Math.round(share * n));
    const never = n - back.reduce((a, b) => a + b, 0);
    const prefixes: (number | null)[] = [
      ...back.flatMap((k, j) => new Array<number | null>(k).fill(j)),
      ...new Array<null>(never).fill(null),
    ];
    for (const returnWindow of prefixes) {
      // Every window it went through without coming back closed on it; then its return, if any.
      for (let j = 0; j < (returnWindow ?? WINDOWS); j++) noteSurvived(family, uses, j);
      if (returnWindow !== null) noteReturn(family, uses, (returnWindow + 0.5) * WINDOW_MS);
    }
  }
  return family;
}

/** A chat-like family: prefixes used more often are likelier to come back, mostly within 5 minutes. */
const CHAT_FAMILY = learnedFamily({
  1: [0.15, 0.03, 0.01],
  2: [0.3, 0.08, 0.02],
  3: [0.45, 0.1, 0.03],
  6: [0.7, 0.03, 0.01],
});

/** A prefix used `uses` times, in a conversation of as many turns. */
function history(uses: number, own: ArrayLike<number>, family: FamilyGaps | null): GapHistory {
  return { uses, turns: uses, own, family };
}

/** An own-gap histogram from gaps in milliseconds. */
function ownOf(...gapsMs: number[]): number[] {
  return gapsMs.reduce<number[]>((own, g) => noteOwnGap(own, g), emptyOwn());
}

const SONNET = modelInfo("claude-sonnet-4-5"); // read 0.1, 5m write 1.25, 1h write 2
const _GPT = modelInfo("gpt-5"); // automatic caching
const SETTINGS: KeepaliveSettings = { ...DEFAULT_KEEPALIVE };
const TOKENS = 20_000;
// floor((1.25 - 0.1) / 0.1): after this many pings the rewrite would have been cheaper.
const BREAK_EVEN_PINGS = 11;

function entry(gaps: GapHistory, pingsSoFar = 0, ttl: "5m" | "1h" = "5m"): PingCandidate {
  return { tokens: TOKENS, ttl, lastUseMs: 0, pingsSoFar, gaps };
}

/**
 * Plays an entry that is never used again: at each lapse the policy decides, and a ping restarts the TTL.
 * Returns how many pings it sent before letting the entry go.
 */
function pingsUntilGivenUp(gaps: GapHistory, settings = SETTINGS): number {
  let pings = 0;
  for (let lapse = 1; lapse <= 30; lapse++) {
    const d = decidePing(entry(gaps, pings), lapse * 5 * MIN, SONNET, settings);
    if (!d.ping) return pings;
    pings++;
  }
  return pings;
}

/**
 * `n` gaps cycling through `gapsMs`: a conversation's own rhythm speaks once it has shown it over many gaps
 * (`OWN_WEIGHT`, fitted on training data: a handful of gaps said too little to outweigh the family's).
 */
const rhythm = (n: number, ...gapsMs: number[]): number[] =>
  ownOf(...Array.from({ length: n }, (_, i) => gapsMs[i % gapsMs.length] as number));

/** A prefix of a chat family whose user comes back every ~7 minutes, over 150 turns. */
const steadyHistory = (): GapHistory =>
  history(6, rhythm(150, 7 * MIN, 6.5 * MIN, 7.5 * MIN, 7 * MIN, 7.2 * MIN), CHAT_FAMILY);

describe("decidePing: rent or buy, learned from the prefix and its family", () => {
  it("never pings a one-off prefix of a learned family, and at most once on the priors alone", () => {
    for (const family of [CHAT_FAMILY, null]) {
      const oneOff: GapHistory = history(1, emptyOwn(), family);
      const pinged: number[] = [];
      for (let lapse = 1; lapse <= 12; lapse++) {
        const d = decidePing(entry(oneOff, lapse - 1), lapse * 5 * MIN, SONNET, SETTINGS);
        if (d.ping) pinged.push(lapse);
      }
      // The prior (fitted on the Mooncake training half) has a one-turn conversation idle for 5 minutes
      // back within the next 5 minutes 10.5 % of the time, just above the 8.7 % a ping needs; after that, never.
      expect(pinged, family ? "learned" : "prior").toEqual(family ? [] : [1]);
    }
  });

  it("keeps a prefix whose user comes back every ~7 minutes", () => {
    const steady = steadyHistory();
    const first = decidePing(entry(steady), 5 * MIN, SONNET, SETTINGS);
    expect(first.ping).toBe(true);
    expect(first.reason).toBe("pays");
    expect(first.pNext).toBeGreaterThan(0.5);
    expect(first.expectedValue).toBeGreaterThan(0);
    // The same family without that rhythm (a prefix used as often, but whose gaps were short) is let go.
    const quick: GapHistory = history(6, rhythm(150, MIN, 2 * MIN, MIN, 1.5 * MIN, MIN), CHAT_FAMILY);
    expect(decidePing(entry(quick), 5 * MIN, SONNET, SETTINGS).ping).toBe(false);
  });

  it("values a ping by what a lapse would lose: a 1h head under the entry is kept anyway", () => {
    const steady = steadyHistory();
    const whole = decidePing(entry(steady), 5 * MIN, SONNET, SETTINGS);
    expect(whole.ping).toBe(true);
    // The same entry over a head held for the hour: a lapse loses only the conversation beyond it.
    const half = decidePing({ ...entry(steady), exposedTokens: TOKENS / 2 }, 5 * MIN, SONNET, SETTINGS);
    expect(half.expectedValue).toBeLessThan(whole.expectedValue / 2);
    // A thin conversation over a large head: each ping reads the head for a small saving, so none pays.
    const thin = decidePing({ ...entry(steady), exposedTokens: TOKENS / 20 }, 5 * MIN, SONNET, SETTINGS);
    expect(thin.ping).toBe(false);
    // And the break-even bound shrinks with it: never more pings than the rewrite of what would be lost.
    const quarter = { ...entry(steady), exposedTokens: TOKENS / 4 };
    // floor(1.15 * 0.25 / 0.1) = 2 pings at most.
    expect(decidePing({ ...quarter, pingsSoFar: 2 }, 15 * MIN, SONNET, SETTINGS).reason).toBe("break-even");
  });

  it("values a ping by the chance it finds the entry: a tenant whose pings miss stops sending them", () => {
    const steady = steadyHistory();
    const sure = decidePing(entry(steady), 5 * MIN, SONNET, SETTINGS);
    const even = decidePing({ ...entry(steady), readChance: 0.5 }, 5 * MIN, SONNET, SETTINGS);
    expect(sure.ping).toBe(true);
    // Half the pings reading nothing (each paying the prompt as a write) turns a paying ping into a loss.
    expect(even.ping).toBe(false);
    expect(even.reason).toBe("does-not-pay");
    expect(even.expectedValue).toBeLessThan(0);
    // The learned chance: a new tenant starts at the prior, misses pull it down fast, reads bring it back.
    let t: PingReads | undefined;
    expect(readChance(t)).toBeCloseTo(PING_READ_PRIOR.chance);
    for (let i = 0; i < 3; i++) t = notePingRead(t, false);
    expect(readChance(t)).toBeLessThan(0.55);
    for (let i = 0; i < 100; i++) t = notePingRead(t, true);
    expect(readChance(t)).toBeGreaterThan(0.95);
    // Bounded: past 200 pings the counts halve, so an old record yields to a new one.
    for (let i = 0; i < 1000; i++) t = notePingRead(t, false);
    expect(t?.sent).toBeLessThanOrEqual(200);
    expect(readChance(t)).toBeLessThan(0.05);
  });

  it("stops pinging a prefix whose user never returns, at the break-even point at the latest", () => {
    // Rhythm of ~7 minutes: one ping covers the usual gap; once that passes, it stops.
    const steady: GapHistory = history(6, ownOf(7 * MIN, 6.5 * MIN, 7.5 * MIN, 7 * MIN), CHAT_FAMILY);
    const spent = pingsUntilGivenUp(steady);
    expect(spent).toBeGreaterThanOrEqual(1);
    expect(spent).toBeLessThanOrEqual(2);
    // A user who has come back at any time within the hour, from a family where nearly everyone comes back:
    // every ping looks worth it, and only the rent-or-buy cap stops the chain.
    const anyTime = ownOf(...Array.from({ length: 11 }, (_, i) => (i + 1.5) * 5 * MIN));
    const loyal = learnedFamily({ 12: [0.1, ...new Array<number>(11).fill(0.08)] });
    const patient: GapHistory = history(12, anyTime, loyal);
    const chain = pingsUntilGivenUp(patient, {
      ...SETTINGS,
      maxPingsPerEntry: 50,
      maxHorizonMs: 24 * 60 * MIN,
    });
    expect(chain).toBe(BREAK_EVEN_PINGS);
    expect(chain * SONNET.cacheRead).toBeLessThanOrEqual(SONNET.cacheWrite5m - SONNET.cacheRead);
    const capped = decidePing(entry(patient, BREAK_EVEN_PINGS), 12 * 5 * MIN, SONNET, {
      ...SETTINGS,
      maxPingsPerEntry: 50,
      maxHorizonMs: 24 * 60 * MIN,
    });
    expect(capped).toMatchObject({ ping: false, reason: "break-even" });
  });

  it("respects the tenant's limits: max pings, horizon, minimum size, budget, disabled", () => {
    const steady: GapHistory = history(6, ownOf(7 * MIN, 7 * MIN, 7 * MIN), CHAT_FAMILY);
    expect(decidePing(entry(steady), 5 * MIN, SONNET, SETTINGS).ping).toBe(true);
    expect(decidePing(entry(steady, 2), 5 * MIN, SONNET, { ...SETTINGS, maxPingsPerEntry: 2 })).toMatchObject(
      { ping: false, reason: "max-pings" },
    );
    expect(decidePing(entry(steady), 5 * MIN, SONNET, { ...SETTINGS, maxHorizonMs: 5 * MIN })).toMatchObject({
      ping: false,
      reason: "horizon",
    });
    expect(decidePing({ ...entry(steady), tokens: 900 }, 5 * MIN, SONNET, SETTINGS)).toMatchObject({
      ping: false,
      reason: "below-minimum",
    });
    expect(decidePing(entry(steady), 5 * MIN, SONNET, { ...SETTINGS, enabled: false })).toMatchObject({
      ping: false,
      reason: "disabled",
    });
    const pingUsd = (TOKENS * SONNET.inputPerMTok * SONNET.cacheRead) / 1e6;
    expect(
      decidePing(entry(steady), 5 * MIN, SONNET, SETTINGS, { remainingUsd: pingUsd * 0.9 }),
    ).toMatchObject({ ping: false, reason: "budget" });
    expect(decidePing(entry(steady), 5 * MIN, SONNET, SETTINGS, { remainingUsd: pingUsd * 1.1 }).ping).toBe(
      true,
    );
  });
});

describe("decideKeepalive: second sight, then rent or buy within the budget", () => {
  it("never pings a first conversation of a family no conversation has come back to", () => {
    const first: GapHistory = history(1, emptyOwn(), emptyFamily());
    const d = decideKeepalive(entry(first), first, 5 * MIN, SONNET, SETTINGS, 0);
    expect(d).toMatchObject({ ping: false, reason: "first-sight" });
    // A conversation of the family has come back, its return still waiting for its window to close: the
    // table has not counted it yet, but it is no longer a first sight.
    const back: GapHistory = { ...first, familyBack: true };
    expect(decideKeepalive(entry(back), back, 5 * MIN, SONNET, SETTINGS, 0).reason).not.toBe("first-sight");
  });

  it("counts what was spent today against the tenant's daily budget", () => {
    const steady: GapHistory = history(6, ownOf(7 * MIN, 6.5 * MIN, 7.5 * MIN, 7 * MIN), CHAT_FAMILY);
    const { gaps, ...kept } = entry(steady);
    expect(decideKeepalive(kept, gaps, 5 * MIN, SONNET, SETTINGS, 0).ping).toBe(true);
    const spent = decideKeepalive(kept, gaps, 5 * MIN, SONNET, SETTINGS, SETTINGS.maxUsdPerDay);
    expect(spent).toMatchObject({ ping: false, reason: "budget" });
  });
});

describe("gap history: what the tracker stores and how the policy reads it", () => {
  it("windows and classes", () => {
    expect([
      windowOf(1),
      windowOf(5 * MIN),
      windowOf(5 * MIN + 1),
      windowOf(60 * MIN),
      windowOf(61 * MIN),
    ]).toEqual([0, 0, 1, 11, 12]);
    const uses = [1, 2, 3, 5, 6, 500].map((n) => classOf({ uses: n, turns: 6 }));
    expect(uses).toEqual([3, 7, 11, 11, 15, 15]);
    // Either count alone stands for both; a bare number is a conversation's turns.
    expect(classOf({ uses: 2 })).toBe(classOf({ uses: 2, turns: 2 }));
    expect(turnClass(3)).toBe(classOf({ uses: 3, turns: 3 }));
  });

  it("learns a family's hazards from survival counts", () => {
    const q = [0.3, 0.1, 0.05];
    const family = learnedFamily({ 2: q }, 4000);
    const h = familyHazards(family, { uses: 2 });
    expect(h[0]).toBeCloseTo(0.3, 2);
    expect(h[1]).toBeCloseTo(0.1 / 0.7, 2);
    expect(h[2]).toBeCloseTo(0.05 / 0.6, 2);
    expect(h[3]).toBeLessThan(0.01);
    const dist = returnDistribution(history(2, [], family));
    expect(dist.reduce((a, b) => a + b, 0)).toBeCloseTo(0.45, 2);
    // A class with no data borrows from its use class over other turns, not from nothing.
    expect(familyHazards(family, { uses: 2, turns: 8 })[0]).toBeCloseTo(0.3, 1);
  });

  it("falls back to the prior for an empty family", () => {
    const dist = returnDistribution(history(1, [], null));
    for (const [j, x] of dist.entries()) expect(x).toBeCloseTo(priorQ(0)[j] as number, 9);
    expect(returnDistribution(history(1, [], emptyFamily()))[0]).toBeCloseTo(priorQ(0)[0] as number, 6);
    // Seen more often, likelier to come back.
    expect(returnDistribution(history(3, [], null))[0]).toBeGreaterThan(1.5 * (dist[0] as number));
  });

  it("own gaps move when, not whether", () => {
    const family = learnedFamily({ 4: [0.4, 0.1, 0.05] });
    const plain = returnDistribution(history(4, [], family));
    const sevenMinutes = returnDistribution(history(4, rhythm(150, 7 * MIN), family));
    // A handful of gaps says little against the family's evidence.
    const few = returnDistribution(history(4, rhythm(4, 7 * MIN), family));
    expect(few[1]).toBeLessThan(1.2 * (plain[1] as number));
    expect(sevenMinutes[1]).toBeGreaterThan(3 * (plain[1] as number));
    expect(sevenMinutes[0]).toBeLessThan(plain[0] as number);
    const total = (d: number[]) => d.reduce((a, b) => a + b, 0);
    expect(total(sevenMinutes)).toBeCloseTo(total(plain), 9);
  });

  it("counts a window when it closes or the prefix comes back in it, and a late return not at all", () => {
    const family = emptyFamily();
    noteSurvived(family, { uses: 1 }, 0);
    noteSurvived(family, { uses: 1 }, 1);
    noteReturn(family, { uses: 1 }, 13 * MIN);
    expect(family.atRisk.slice(0, 4)).toEqual([1, 1, 1, 0]);
    expect(family.returns.slice(0, 4)).toEqual([0, 0, 1, 0]);
    noteReturn(family, { uses: 1 }, 2 * 60 * MIN);
    expect(family.returns.slice(0, WINDOWS).reduce((a, b) => a + b, 0)).toBe(1);
    // A prefix still inside its first window is neither a return nor a miss yet: nothing counted.
    expect(familyHazards(family, { uses: 1 })[2]).toBeGreaterThan(
      familyHazards(null, { uses: 1 })[2] as number,
    );
  });

  it("encodes compactly for a SQLite row and refuses what it did not write", () => {
    const family = learnedFamily({ 1: [0.2, 0.05], 6: [0.7] }, 300);
    noteSurvived(family, { uses: 3, turns: 7 }, 0);
    const blob = encodeFamily(family);
    expect(blob.byteLength).toBe(1572);
    expect(decodeFamily(blob)).toEqual(family);
    expect(decodeFamily(blob.slice(3))).toEqual(emptyFamily());
    const own = ownOf(MIN, 7 * MIN, 3 * 60 * MIN);
    const bytes = encodeOwn(own);
    expect(bytes.byteLength).toBe(WINDOWS + 1);
    expect(decodeOwn(bytes)).toEqual(own);
    expect(decodeOwn(null)).toEqual(new Array(WINDOWS + 1).fill(0));
    expect(windowOf(WINDOW_MS * WINDOWS + 1)).toBe(WINDOWS);
  });
});

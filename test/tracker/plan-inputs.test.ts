import { describe, expect, it } from "vitest";
import { HEAD_PRIOR_H } from "../../src/decide/hazard.ts";
import { countRequest, RATE_TAU_MS, rateAt } from "../../src/tracker/plan-inputs.ts";
import type { RecordRequest } from "../../src/tracker/types.ts";
import { recordRequest } from "../support/records.ts";
import { freshTenant } from "../support/tenants.ts";
import { tracker } from "../support/tracker.ts";

const T0 = 1_800_000_000_000;
/** Records are stamped now: the tracker sweeps conversations up to a record's time. */
const NOW = Date.now();

describe("a family's request rate", () => {
  it("counts requests per minute, forgetting them with a one-minute time constant", () => {
    let r = countRequest(undefined, T0);
    expect(rateAt(r, T0)).toBe(1);
    // 30 requests spread evenly over one minute: about 30·(1 - e^-1) ≈ 19 a minute at its end.
    for (let i = 1; i < 30; i++) r = countRequest(r, T0 + i * 2000);
    expect(rateAt(r, T0 + 58_000)).toBeGreaterThan(15);
    expect(rateAt(r, T0 + 58_000)).toBeLessThan(30);
    expect(rateAt(r, T0 + 58_000 + 5 * RATE_TAU_MS)).toBeLessThan(0.2);
    expect(rateAt(undefined, T0)).toBe(0);
  });

  it("counts a late record as of its own time", () => {
    const late = countRequest(countRequest(undefined, T0 + 60_000), T0);
    expect(late.at).toBe(T0 + 60_000);
    expect(rateAt(late, T0 + 60_000)).toBeCloseTo(1 + Math.exp(-1), 10);
  });
});

const FAMILY = "family-aaaaaaaaaaaa";

function record(tenantId: string, i: number, over: Partial<RecordRequest> = {}): RecordRequest {
  return recordRequest({
    tenantId,
    requestId: `req_inputs_${tenantId}_${i}`,
    at: NOW + i * 1000,
    family: FAMILY,
    conversation: `conversation-${i}-aaaaaaa`,
    estimatedTokens: 1000,
    positions: [{ hash: `position-${i}-aaaaaaaa`, tokens: 1000, breakpoint: null }],
    ...over,
  });
}

describe("the tracker's lookup and record answers", () => {
  it("carry the family's rate and the model's calibration, learned from records", async () => {
    const t = freshTenant();
    const stub = tracker(t.id);
    const scope = { family: FAMILY, model: "claude-sonnet-4-6" };
    const empty = await stub.lookup([], NOW, scope);
    expect(empty).toMatchObject({ ok: true, value: { states: {}, familyRatePerMin: 0 } });
    // A new tenant's outlook is the priors: a new head's chance of coming back within 5 minutes.
    expect(empty.ok && empty.value.outlook?.head[0]).toBeCloseTo(HEAD_PRIOR_H[0]?.[0] ?? -1, 6);
    expect(empty.ok && empty.value.outlook?.reach).toEqual([0.9, 0.5, 0.5]);
    for (let i = 0; i < 3; i++) {
      const answer = await stub.record(record(t.id, i));
      expect(answer.ok && answer.value.familyRatePerMin).toBeGreaterThan(i);
      expect(answer.ok && answer.value.calibration?.ratio).toBeCloseTo(0.5, 6);
    }
    // A ping is no traffic; a request without usage or estimate teaches no calibration.
    await stub.record(record(t.id, 3, { keepalive: true }));
    await stub.record(record(t.id, 4, { usage: null, model: "claude-opus-4-8" }));
    const looked = await stub.lookup([], NOW + 4000, scope);
    expect(looked.ok && looked.value.familyRatePerMin).toBeCloseTo(4, 0);
    expect(looked.ok && looked.value.calibration?.weight).toBe(3000);
    const other = await stub.lookup([], NOW + 4000, { family: FAMILY, model: "claude-opus-4-8" });
    expect(other.ok && other.value.calibration).toBeUndefined();
    // Without a scope: the states only, as before.
    expect(await stub.lookup([], NOW)).toEqual({ ok: true, value: { states: {} } });
    expect((await stub.lookup([], NOW, { family: "bad family!", model: "m" })).ok).toBe(false);
  }, 30_000); // the first call starts the object: seconds on a loaded machine

  it("read back the rows a record wrote: a lookup answers what the record's answer said", async () => {
    const t = freshTenant();
    const stub = tracker(t.id);
    const positions = [
      { hash: "readback-head-aaaaaaa", tokens: 2000, breakpoint: "1h" as const },
      { hash: "readback-tail-aaaaaaa", tokens: 3000, breakpoint: "5m" as const },
    ];
    const usage = (written5m: number, written1h: number, read: number) => ({
      inputTokens: 3000,
      uncachedTokens: 3000 - written5m - written1h - read,
      cacheReadTokens: read,
      cacheWrite5mTokens: written5m,
      cacheWrite1hTokens: written1h,
      outputTokens: 5,
    });
    const first = record(t.id, 10, {
      conversation: "readback-conversation",
      positions,
      usage: usage(1000, 2000, 0),
    });
    const second = record(t.id, 11, {
      at: first.at + 30_000,
      conversation: "readback-conversation",
      positions,
      usage: usage(0, 0, 3000),
    });
    // Ten minutes later: a gap beyond 5 minutes and within the hour.
    const third = record(t.id, 12, {
      at: second.at + 600_000,
      conversation: "readback-conversation",
      positions,
      usage: usage(1000, 0, 2000),
    });
    await stub.record(first);
    await stub.record(second);
    const answer = await stub.record(third);
    const hashes = positions.map((p) => p.hash);
    const looked = await stub.lookup(hashes, third.at);
    if (!answer.ok || !looked.ok) throw new Error("record or lookup refused");
    // Every field a lookup reads from the row (tokens, seen, last use, cache expiry and TTL, gaps) as the
    // record's own update computed it.
    expect(looked.value.states).toEqual(answer.value.states);
    // Not trivially equal: the head was written for the hour and read since, every position seen three
    // times, one gap within 5 minutes and one within the hour only.
    const head = looked.value.states["readback-head-aaaaaaa"];
    expect(head).toMatchObject({
      seen: 3,
      lastSeenMs: third.at,
      ttl: "1h",
      gaps: { count: 2, within5m: 1, within1h: 2 },
    });
    expect(head?.cachedUntilMs).toBeGreaterThan(third.at);
    expect(looked.value.states["readback-tail-aaaaaaa"]?.seen).toBe(3);
  });
});

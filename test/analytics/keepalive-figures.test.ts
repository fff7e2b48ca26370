import { afterEach, describe, expect, it, vi } from "vitest";
import { SummarySchema, TimeseriesSchema } from "../../src/analytics/schemas.ts";
import { api } from "../support/analytics.ts";
import { simAdvance } from "../support/clients.ts";
import { justBeforeLapse, seedFamilyHistory, twoTurnConversation } from "../support/keepalive.ts";
import { eventually, tracker } from "../support/tracker.ts";

afterEach(() => {
  vi.useRealTimers();
});

describe("keepalive figures in the analytics", () => {
  it("a ping that kept a paused conversation cached: its cost, the rewrite it avoided, the net saving", async () => {
    const { ns, t, row, third } = await twoTurnConversation();
    await seedFamilyHistory(t.id, row.family, 2, 0.8);
    const { sweepAt } = await justBeforeLapse(ns, row, 0);
    const report = await tracker(t.id).runKeepalive(sweepAt);
    expect(report.pinged).toBe(1);

    // The user comes back 7 minutes after turn 2, on both clocks (Stoker's is faked in this isolate).
    const back = row.last_use + 7 * 60_000;
    await simAdvance(ns, (back - sweepAt) / 1000);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(back);
    const reply = await third();
    vi.useRealTimers(); // the request's time is taken when it starts
    expect(reply.usage.cache_read_input_tokens).toBeGreaterThan(3000);
    // The ping and the third turn happened "later" than real time: ask for a range that holds them.
    const range = `from=${Date.now() - 3600_000}&to=${back + 60_000}`;
    await eventually(
      async () => SummarySchema.parse((await api(`/v1/analytics/summary?${range}`, t.key)).body),
      (s) => s.requests === 3 && s.keepalive.rewrites_avoided === 1,
    );

    const s = SummarySchema.parse((await api(`/v1/analytics/summary?${range}`, t.key)).body);
    expect(s.requests).toBe(3);
    expect(s.keepalive.pings).toBe(1);
    expect(s.keepalive.cost_usd).toBeCloseTo(report.costUsd, 6);
    expect(s.keepalive.cost_usd).toBeGreaterThan(0);
    expect(s.keepalive.rewrites_avoided).toBe(1);
    // The avoided write (1.25×) less the read paid instead (0.1×), at $3/MTok, on the tokens the lapse would
    // have lost: the third turn read the whole entry, but the head under it was written for the hour.
    expect(reply.usage.cache_read_input_tokens ?? 0).toBeGreaterThanOrEqual(row.tokens * 0.9);
    const lost = row.exposed ?? 0;
    expect(lost).toBeGreaterThan(3000);
    expect(lost).toBeLessThan(row.tokens - 3000);
    expect(s.keepalive.rewrites_avoided_usd).toBeCloseTo((lost * 3 * (1.25 - 0.1)) / 1e6, 5);
    expect(s.keepalive.rewrites_avoided_usd).toBeGreaterThan(s.keepalive.cost_usd);
    expect(s.net_saved_usd).toBeCloseTo(s.saved_usd - s.keepalive.cost_usd, 6);
    // Pings are not requests: they do not count in the token figures.
    expect(s.input_tokens).toBe(s.by_model[0]?.input_tokens);
    const ts = TimeseriesSchema.parse((await api(`/v1/analytics/timeseries?bucket=5m&${range}`, t.key)).body);
    expect(ts.buckets.reduce((n, b) => n + b.keepalive.pings, 0)).toBe(1);
    expect(ts.buckets.reduce((n, b) => n + b.keepalive.rewrites_avoided, 0)).toBe(1);
  });
});

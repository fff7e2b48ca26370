import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { runCron } from "../../src/keepalive/scheduled.ts";
import { anthropic, longText, namespace, simAdvance, simRequests } from "../support/clients.ts";
import {
  justBeforeLapse,
  keepaliveRows,
  seedFamilyHistory,
  twoTurnConversation,
  twoTurns as twoTurnsThrough,
} from "../support/keepalive.ts";
import { freshTenant } from "../support/tenants.ts";
import { totalsAfter, tracker } from "../support/tracker.ts";

const MODEL = "claude-sonnet-4-6";

const twoTurns = twoTurnConversation;

const pings = async (ns: string) =>
  (await simRequests(ns)).filter((r) => JSON.parse(r.body).max_tokens === 0).length;

describe("keepalive", () => {
  it("a conversation paused for 7 minutes reads the cache on its next turn thanks to a ping", async () => {
    const { ns, t, row, third } = await twoTurns();
    await seedFamilyHistory(t.id, row.family, 2, 0.8);
    const { sweepAt } = await justBeforeLapse(ns, row, 0);
    const report = await tracker(t.id).runKeepalive(sweepAt);
    expect(report.pinged).toBe(1);
    expect(report.refreshed).toBe(1);
    // The user comes back 7 minutes after turn 2.
    await simAdvance(ns, (row.last_use + 7 * 60_000 - sweepAt) / 1000);
    const reply = await third();
    // The whole conversation, not only the head (written for the hour, it outlives a 7-minute pause anyway).
    expect(row.exposed).toBeGreaterThan(3000);
    expect(reply.usage.cache_read_input_tokens).toBeGreaterThanOrEqual(row.tokens * 0.9);
    const totals = await totalsAfter(t.id, 4);
    console.log(
      `7-minute pause: 1 ping, cost $${report.costUsd.toFixed(5)}; turn 3 read ${reply.usage.cache_read_input_tokens} tokens; tracker total cost $${totals.costUsd.toFixed(5)}`,
    );
  });

  it("a ping replays the turn as it went upstream: its prefix as sent, non-ASCII text intact, no diagnostics", async () => {
    for (const system of [longText(3000, "rules"), `${longText(3000, "rules")} — déjà vu, 🙂`]) {
      const ns = namespace();
      const t = freshTenant();
      const { row } = await twoTurnsThrough(anthropic(ns, { apiKey: t.key }), t.id, system);
      await seedFamilyHistory(t.id, row.family, 2, 0.8);
      const { sweepAt } = await justBeforeLapse(ns, row, 0);
      expect((await tracker(t.id).runKeepalive(sweepAt)).pinged).toBe(1);
      const sent = (await simRequests(ns)).map((r) => JSON.parse(r.body) as Record<string, unknown>);
      const ping = sent.find((b) => b.max_tokens === 0);
      const turn = sent.filter((b) => b.max_tokens !== 0).at(-1);
      if (!ping || !turn) throw new Error("no ping, or no turn before it");
      // The prefix a ping reads is the turn's own: the same system, tools and messages up to its breakpoint.
      expect(ping.system).toEqual(turn.system);
      expect(ping.tools).toEqual(turn.tools);
      const messages = ping.messages as unknown[];
      expect(messages.length).toBeGreaterThan(0);
      expect(messages).toEqual((turn.messages as unknown[]).slice(0, messages.length));
      // Cache diagnostics were asked for the turn, on the client's behalf; a ping replays without them.
      expect("diagnostics" in turn).toBe(true);
      expect("diagnostics" in ping).toBe(false);
    }
  });

  it("without the ping the same pause misses (control)", async () => {
    const { ns, row, third } = await twoTurns();
    await simAdvance(ns, (row.last_use + 7 * 60_000 - Date.now()) / 1000);
    const reply = await third();
    // At most the head (written for the hour); the conversation beyond it lapsed.
    expect(row.exposed).toBeGreaterThan(3000);
    expect(reply.usage.cache_read_input_tokens ?? 0).toBeLessThanOrEqual(row.tokens - (row.exposed ?? 0));
  });

  it("a one-off request is never pinged", async () => {
    const ns = namespace();
    const t = freshTenant();
    await anthropic(ns, { apiKey: t.key }).messages.create({
      model: MODEL,
      max_tokens: 16,
      system: longText(3000, "rules"),
      messages: [{ role: "user", content: `Summarize: ${longText(2000, "doc")}` }],
    });
    await totalsAfter(t.id, 1);
    // Second sight: its request is not even sealed and stored, so nothing can ping it.
    expect(await keepaliveRows(t.id)).toEqual([]);
    const report = await tracker(t.id).runKeepalive(Date.now() + 285_000);
    expect(report.pinged).toBe(0);
    expect(await pings(ns)).toBe(0);
  });

  it("a user who never returns is pinged at most up to the break-even point, then the body is deleted", async () => {
    const { ns, t, row } = await twoTurns();
    await seedFamilyHistory(t.id, row.family, 2, 0.8);
    let offset = 0;
    let current = row;
    for (let i = 0; i < 20 && current.state === "live"; i++) {
      const step = await justBeforeLapse(ns, current, offset);
      offset = step.simOffsetMs;
      await tracker(t.id).runKeepalive(step.sweepAt);
      [current] = (await keepaliveRows(t.id)) as [typeof current];
    }
    // Rent or buy at 5m prices: a rewrite costs 1.25, a read 0.1, so never more than 11 pings per idle period.
    expect(current.pings).toBeGreaterThan(0);
    expect(current.pings).toBeLessThanOrEqual(11);
    expect(current.state).toBe("stopped");
    expect(current.has_body).toBe(0);
    expect(await pings(ns)).toBe(current.pings);
    console.log(`never returns: ${current.pings} pings, then stopped (${current.note})`);
  });

  it("a turn that moves the deadline later leaves the alarm; the early alarm pings nothing and sets the next", async () => {
    const { ns, t, row, third } = await twoTurns();
    const alarm = () => runInDurableObject(tracker(t.id), (_i, state) => state.storage.getAlarm());
    const first = await alarm();
    expect(first).not.toBeNull();
    await third();
    await totalsAfter(t.id, 3);
    const [after] = await keepaliveRows(t.id);
    expect(after?.cached_until).toBeGreaterThan(row.cached_until);
    // The record did not move the alarm: it still fires for the old deadline.
    expect(await alarm()).toBe(first);
    expect(await runDurableObjectAlarm(tracker(t.id))).toBe(true);
    expect(await pings(ns)).toBe(0);
    // It set the next alarm: for the new deadline, less the ping's lead.
    const next = await alarm();
    expect(next).toBeGreaterThan(first as number);
    expect(next).toBeLessThan(after?.cached_until as number);
  });

  it("a zero daily budget sends nothing", async () => {
    const { ns, t, row } = await twoTurns();
    await seedFamilyHistory(t.id, row.family, 2, 0.8);
    await tracker(t.id).configureKeepalive({ maxUsdPerDay: 0 });
    const { sweepAt } = await justBeforeLapse(ns, row, 0);
    const report = await tracker(t.id).runKeepalive(sweepAt);
    expect(report.pinged).toBe(0);
    expect(report.skipped).toBe(1);
    expect(await pings(ns)).toBe(0);
  });

  it("a tenant with keepalive off stores no bodies and sends nothing", async () => {
    const t = freshTenant();
    await tracker(t.id).configureKeepalive({ enabled: false });
    const ns = namespace();
    await anthropic(ns, { apiKey: t.key }).messages.create({
      model: MODEL,
      max_tokens: 16,
      system: longText(3000, "rules"),
      messages: [{ role: "user", content: "Hi" }],
    });
    await totalsAfter(t.id, 1);
    expect(await keepaliveRows(t.id)).toEqual([]);
  });

  it("cron, alarm and a second sweep firing at once send one ping", async () => {
    const { ns, t, row } = await twoTurns();
    await seedFamilyHistory(t.id, row.family, 2, 0.8);
    const { sweepAt } = await justBeforeLapse(ns, row, 0);
    const stub = tracker(t.id);
    const [cron, a, b, alarmRan] = await Promise.all([
      runCron(env, sweepAt),
      stub.runKeepalive(sweepAt),
      stub.runKeepalive(sweepAt),
      runDurableObjectAlarm(stub),
    ]);
    const [after] = await keepaliveRows(t.id);
    // Whichever ran first (often the alarm, which sweeps as of its own deadline) sent the one ping.
    expect(alarmRan).toBe(true);
    expect(cron.tenants).toBeGreaterThanOrEqual(1);
    // The registry is global: the cron may also sweep other tests' tenants, so count this tenant's pings.
    expect(a.pinged + b.pinged).toBeLessThanOrEqual(1);
    expect(after?.pings).toBe(1);
    expect(await pings(ns)).toBe(1);
  });
});

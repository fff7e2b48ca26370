import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getConfig } from "../../src/core/config.ts";
import { emptyFamily, noteReturn, windowOf } from "../../src/decide/gaps.ts";
import { decidePing } from "../../src/decide/keepalive.ts";
import { DEFAULT_KEEPALIVE, PING_LEAD_MS, pingLeadMs } from "../../src/decide/keepalive-settings.ts";
import { modelInfo } from "../../src/economics/models.ts";
import { Conversations } from "../../src/tracker/conversation-state.ts";
import { SqlConversationStore } from "../../src/tracker/conversations.ts";
import { sqlKeepaliveDeps } from "../../src/tracker/keepalive-deps.ts";
import { runKeepalive } from "../../src/tracker/keepalive-run.ts";
import { KeepaliveStore } from "../../src/tracker/keepalive-store.ts";
import { simRequests } from "../support/clients.ts";
import { seedFamilyHistory, twoTurnConversation } from "../support/keepalive.ts";
import { tracker } from "../support/tracker.ts";

// ANTHROPIC_CACHE_TTL_SECONDS=20 (a demo or self-hosted TTL) with users who pause 32 s between turns.
const TTL_MS = 20_000;
const PAUSE_MS = 32_000;

describe("keepalive at a short TTL", () => {
  it("leads by at most a quarter of the TTL, and by PING_LEAD_MS at the default TTL", () => {
    expect(pingLeadMs(TTL_MS)).toBe(5_000);
    expect(pingLeadMs(300_000)).toBe(PING_LEAD_MS);
    for (const ttl of [1_000, 20_000, 80_000, 300_000, 3_600_000]) expect(pingLeadMs(ttl)).toBeLessThan(ttl);
  });

  it("counts gaps in windows of the configured TTL", () => {
    expect(windowOf(PAUSE_MS)).toBe(0);
    expect(windowOf(PAUSE_MS, TTL_MS)).toBe(1);
    const family = emptyFamily();
    noteReturn(family, 2, PAUSE_MS, TTL_MS);
    expect(family.returns.indexOf(1) % 12).toBe(1);
  });

  it("decides with the configured TTL: a ping holds the entry 20 s, not 5 minutes", () => {
    const model = modelInfo("claude-sonnet-4-6");
    // Every conversation like this one came back 20-40 s (window 1 of 20 s windows) after its last turn.
    const family = emptyFamily();
    for (let c = 0; c < 16; c++) {
      family.atRisk[c * 12] = 50;
      family.atRisk[c * 12 + 1] = 50;
      family.returns[c * 12 + 1] = 50;
    }
    const entry = {
      tokens: 4000,
      ttl: "5m" as const,
      lastUseMs: 0,
      pingsSoFar: 0,
      gaps: { uses: 2, turns: 2, own: Array(13).fill(0), family },
    };
    const d = decidePing(entry, TTL_MS - pingLeadMs(TTL_MS), model, DEFAULT_KEEPALIVE, undefined, TTL_MS);
    expect(d.ping).toBe(true);
    expect(d.pNext).toBeGreaterThan(0.5);
    // Read in 5-minute windows with a 5-minute hold (the old behaviour), the same history says little.
    expect(decidePing(entry, TTL_MS - pingLeadMs(TTL_MS), model, DEFAULT_KEEPALIVE).pNext).toBeLessThan(0.1);
  });

  it("pings once per deadline, just before each believed expiry, never in a burst", async () => {
    const { ns, t, row } = await twoTurnConversation();
    await seedFamilyHistory(t.id, row.family, 2, 0.9);
    const sent = await runInDurableObject(tracker(t.id), async (_i, state) => {
      const sql = state.storage.sql;
      const base = getConfig(env);
      const config = { ...base, keepalive: { ...base.keepalive, anthropicTtlMs: TTL_MS } };
      const store = new KeepaliveStore(sql);
      const deps = sqlKeepaliveDeps({
        sql,
        tenantId: t.id,
        config,
        settings: DEFAULT_KEEPALIVE,
        store,
        conversations: new Conversations(new SqlConversationStore(sql), TTL_MS),
        apiKeys: {},
      });
      // The entry as a 20 s TTL deployment records it.
      sql.exec(
        "UPDATE keepalive SET cached_until = last_use + ? WHERE conversation = ?",
        TTL_MS,
        row.conversation,
      );
      const times: { at: number; deadline: number }[] = [];
      // The alarm: wakes at the next deadline minus the lead, sweeps as of then, reschedules; the user is
      // back PAUSE_MS after the last turn.
      for (let i = 0; i < 30; i++) {
        const deadline = store.nextDeadline();
        if (deadline === null) break;
        const wake = deadline - pingLeadMs(TTL_MS);
        if (wake >= row.last_use + PAUSE_MS) break;
        const report = await runKeepalive(deps, wake, 50);
        for (let p = 0; p < report.pinged; p++) times.push({ at: wake, deadline });
      }
      return times;
    });
    // Deadlines at 20 s and 35 s after the last turn: pings at 15 s and 30 s, 5 s before each.
    expect(sent.map((p) => p.at - row.last_use)).toEqual([15_000, 30_000]);
    for (const p of sent) expect(p.deadline - p.at).toBe(pingLeadMs(TTL_MS));
    expect(new Set(sent.map((p) => p.deadline)).size).toBe(sent.length);
    const pings = (await simRequests(ns)).filter((r) => JSON.parse(r.body).max_tokens === 0);
    expect(pings).toHaveLength(2);
  });
});

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CRON_BATCH, registry } from "../../src/keepalive/registry.ts";
import { KeepaliveStore } from "../../src/tracker/keepalive-store.ts";
import { freshTenant } from "../support/tenants.ts";
import { tracker } from "../support/tracker.ts";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

describe("keepalive at scale", () => {
  it("10,000 tenants in the registry: a cron run reads at most one batch of due tenants", async () => {
    const now = Date.now();
    const stub = registry(env);
    // 10,000 tenants with deadlines spread over the next 10 minutes (as if each had live candidates).
    await runInDurableObject(stub, (_i, state) => {
      state.storage.transactionSync(() => {
        for (let i = 0; i < 10_000; i++) {
          state.storage.sql.exec(
            "INSERT INTO due (tenant, at) VALUES (?, ?) ON CONFLICT (tenant) DO UPDATE SET at = excluded.at",
            `scale-${i}`,
            now + (i % 600) * 1000,
          );
        }
      });
    });
    const times: number[] = [];
    let due: string[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      due = await runInDurableObject(stub, (instance) => instance.due(now + 60_000));
      times.push(performance.now() - t0);
    }
    // ~1,000 are due within the minute; one run takes one batch (the rest are the alarms' job, or the next run's).
    expect(due.length).toBe(CRON_BATCH);
    console.log(
      `registry.due over 10,000 tenants: ${due.length} returned, median ${median(times).toFixed(2)} ms`,
    );
  });

  it("1,000 live candidates in one tracker: the due query and the next deadline stay cheap", async () => {
    const t = freshTenant();
    const now = Date.now();
    const times = await runInDurableObject(tracker(t.id), (_i, state) => {
      const sql = state.storage.sql;
      const sealed = new Uint8Array(64).buffer;
      state.storage.transactionSync(() => {
        for (let i = 0; i < 1_000; i++) {
          sql.exec(
            `INSERT INTO keepalive (conversation, hash, family, upstream, model, tokens, iv, sealed, ttl, last_use, cached_until, pings, claimed_for, state, note)
             VALUES (?, ?, 'fam', 'anthropic', 'claude-sonnet-4-6', 20000, ?, ?, '5m', ?, ?, 0, NULL, 'live', NULL)`,
            `conv-${i}`,
            `hash-${i}`,
            sealed,
            sealed,
            now,
            now + 60_000 + (i % 300) * 1000,
          );
        }
      });
      const store = new KeepaliveStore(sql);
      const out: number[] = [];
      let due = 0;
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        due = store.due(now + 120_000, 20_000, 50).length;
        store.nextDeadline();
        out.push(performance.now() - t0);
      }
      return { out, due, size: sql.databaseSize };
    });
    expect(times.due).toBe(50);
    console.log(
      `tracker with 1,000 candidates: due+nextDeadline median ${median(times.out).toFixed(2)} ms, database ${(times.size / 1024).toFixed(0)} KiB`,
    );
  });
});

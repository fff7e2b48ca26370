import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { TenantSchema, TenantWithKeySchema } from "../../src/analytics/schemas.ts";
import { LIMITS } from "../../src/tracker/schema.ts";
import { anthropic, longText, namespace, STOKER, simFault, workerFetch } from "../support/clients.ts";
import { ADMIN_TOKEN, freshTenant } from "../support/tenants.ts";
import { eventually, totalsAfter, tracker } from "../support/tracker.ts";

const ask = (key: string, ns = namespace()) =>
  anthropic(ns, { apiKey: key }).messages.create({
    model: "claude-sonnet-4-6",
    max_tokens: 8,
    system: longText(1500),
    messages: [{ role: "user", content: "hi" }],
  });

const count = (id: string, table: string) =>
  runInDurableObject(
    tracker(id),
    (_t, state) => state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).one().n,
  );

describe("per-tenant storage is bounded", () => {
  it(`keeps at most ${LIMITS.requests} request rows, the newest`, async () => {
    const t = freshTenant();
    const extra = 1000;
    const started = Date.now();
    await runInDurableObject(tracker(t.id), (_t, state) => {
      state.storage.sql.exec(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
         INSERT INTO requests (request_id, at, upstream, endpoint, model, stream, keepalive, status, result,
           input_tokens, uncached_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
           output_tokens, cost_usd, cost_without_cache_usd, ttfb_ms, duration_ms, plan)
         SELECT 'fill-' || i, ?, 'anthropic', 'messages', 'm', 0, 0, 200, 'ok', 1, 1, 0, 0, 0, 1, 0, 0, 1, 1, NULL FROM n`,
        LIMITS.requests + extra,
        Date.now(),
      );
    });
    const filled = Date.now() - started;
    const report = await tracker(t.id).housekeeping(Date.now());
    expect(report.rows.requests).toBe(LIMITS.requests);
    const oldest = await runInDurableObject(
      tracker(t.id),
      (_t, state) =>
        state.storage.sql
          .exec<{ r: string }>("SELECT request_id AS r FROM requests ORDER BY id LIMIT 1")
          .one().r,
    );
    expect(oldest).toBe(`fill-${extra + 1}`);
    console.log(
      `requests cap: ${LIMITS.requests + extra} rows (filled in ${filled} ms) -> ${report.rows.requests}; ${(report.bytes / 1048576).toFixed(1)} MiB`,
    );
  });

  it(`keeps recent chains for at most ${LIMITS.lineages} lineages, the most recently used`, async () => {
    const t = freshTenant();
    await runInDurableObject(tracker(t.id), (_t, state) => {
      state.storage.sql.exec(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
         INSERT INTO recent_chains (lineage, at, cached_tokens, summary) SELECT 'anthropic:m' || i, i, 0, '{}' FROM n`,
        LIMITS.lineages + 300,
      );
    });
    await tracker(t.id).housekeeping(Date.now());
    const lineages = await runInDurableObject(tracker(t.id), (_t, state) =>
      state.storage.sql
        .exec<{ l: string }>("SELECT DISTINCT lineage AS l FROM recent_chains")
        .toArray()
        .map((r) => r.l),
    );
    expect(lineages).toHaveLength(LIMITS.lineages);
    expect(lineages).toContain(`anthropic:m${LIMITS.lineages + 300}`);
    expect(lineages).not.toContain("anthropic:m1");
  });

  it("keeps a chain only for answered requests", async () => {
    const t = freshTenant();
    const ns = namespace();
    await simFault(ns, { status: 500 });
    await expect(ask(t.key, ns)).rejects.toMatchObject({ status: 500 });
    await totalsAfter(t.id, 1);
    expect(await count(t.id, "recent_chains")).toBe(0);
    await ask(t.key);
    await totalsAfter(t.id, 2);
    expect(await count(t.id, "recent_chains")).toBe(1);
  });

  it("shows a tenant's storage in the admin API", async () => {
    const res = await workerFetch(`${STOKER}/v1/admin/tenants`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ id: `st-${crypto.randomUUID().slice(0, 8)}` }),
    });
    const created = TenantWithKeySchema.parse(await res.json());
    expect(created.tenant.storage.rows.requests).toBe(0);
    await ask(created.key);
    const got = await eventually(
      async () =>
        TenantSchema.parse(
          await (
            await workerFetch(`${STOKER}/v1/admin/tenants/${created.tenant.id}`, {
              headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
            })
          ).json(),
        ),
      (t) => t.storage.rows.requests === 1,
    );
    expect(got.storage.rows.requests).toBe(1);
    expect(got.storage.bytes).toBeGreaterThan(0);
    expect(got.storage.limits).toEqual({ requests: LIMITS.requests, lineages: LIMITS.lineages });
  });
});

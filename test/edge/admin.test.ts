import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  AuditSchema,
  ErrorSchema,
  SummarySchema,
  TenantSchema,
  TenantWithKeySchema,
} from "../../src/analytics/schemas.ts";
import { createApp } from "../../src/app.ts";
import type { TenantDirectory } from "../../src/tenants/directory.ts";
import { admin } from "../support/admin.ts";
import { anthropic, longText, namespace, STOKER, simRequests, workerFetch } from "../support/clients.ts";
import { ADMIN_TOKEN, TEST_TENANTS, UPSTREAM_KEYS } from "../support/tenants.ts";
import { totalsAfter, tracker } from "../support/tracker.ts";

let n = 0;
const newId = () => `adm-${Date.now().toString(36)}-${n++}`;

async function create(extra: Record<string, unknown> = {}) {
  const id = newId();
  const res = await admin("POST", "/v1/admin/tenants", { id, ...extra });
  expect(res.status).toBe(201);
  return { id, ...TenantWithKeySchema.parse(res.body) };
}

const ask = (key: string, ns = namespace()) =>
  anthropic(ns, { apiKey: key }).messages.create({
    model: "claude-sonnet-4-6",
    max_tokens: 8,
    system: longText(1500),
    messages: [{ role: "user", content: "hi" }],
  });

const directoryStub = () => {
  const ns = env.TENANT_DIRECTORY as DurableObjectNamespace<TenantDirectory>;
  return ns.get(ns.idFromName("global"));
};

describe("admin API: tenants", () => {
  it("creates a tenant whose key works at once and is never shown again", async () => {
    const t = await create({ canonicalize: { volatileToTail: true }, keepalive: { maxUsdPerDay: 2 } });
    expect(t.key).toMatch(/^sk-stoker-[A-Za-z0-9_-]{43}$/);
    expect(t.tenant.canonicalize).toEqual({ volatileToTail: true });
    expect(t.tenant.keepalive.maxUsdPerDay).toBe(2);
    const got = await admin("GET", `/v1/admin/tenants/${t.id}`);
    expect(got.status).toBe(200);
    expect(JSON.stringify(got.body)).not.toContain(t.key);
    expect(TenantSchema.parse(got.body).key_set).toBe(true);
    await ask(t.key);
    const s = await totalsAfter(t.id, 1);
    expect(s.requests).toBe(1);
    const res = await workerFetch(`${STOKER}/v1/analytics/summary`, {
      headers: { authorization: `Bearer ${t.key}` },
    });
    expect(SummarySchema.parse(await res.json()).requests).toBe(1);
    expect((await admin("POST", "/v1/admin/tenants", { id: t.id })).status).toBe(409);
    expect((await admin("POST", "/v1/admin/tenants", { id: "alpha" })).status).toBe(409);
  });

  it("uses the tenant's own provider key upstream, stored sealed and never returned", async () => {
    const t = await create();
    const mine = "sk-ant-tenant-own-key-0123456789";
    const set = await admin("PUT", `/v1/admin/tenants/${t.id}/provider-keys`, { anthropic: mine });
    expect(set.status).toBe(200);
    expect(TenantSchema.parse(set.body).provider_keys).toEqual({
      anthropic: true,
      openai: false,
      gemini: false,
      bedrock: false,
    });
    expect(JSON.stringify(set.body)).not.toContain(mine);
    const ns = namespace();
    await ask(t.key, ns);
    const [sent] = await simRequests(ns);
    expect(sent?.headers["x-api-key"]).toBe(mine);
    // Sealed at rest: no column of the directory holds the key's text.
    const rows = await runInDurableObject(directoryStub(), (_i, state) =>
      state.storage.sql.exec("SELECT * FROM provider_keys").toArray(),
    );
    const text = rows
      .map((r) =>
        Object.values(r)
          .map((v) => (v instanceof ArrayBuffer ? new TextDecoder().decode(v) : String(v)))
          .join("|"),
      )
      .join("\n");
    expect(text).not.toContain(mine);
    expect(text).not.toContain("tenant-own-key");
    // Cleared: the deploy's key again.
    await admin("PUT", `/v1/admin/tenants/${t.id}/provider-keys`, { anthropic: null });
    const ns2 = namespace();
    await ask(t.key, ns2);
    expect((await simRequests(ns2))[0]?.headers["x-api-key"]).toBe(UPSTREAM_KEYS.anthropic);
  });

  it("rotates and revokes keys: the old key stops working at once", async () => {
    const t = await create();
    await ask(t.key);
    const rotated = await admin("POST", `/v1/admin/tenants/${t.id}/rotate-key`);
    expect(rotated.status).toBe(200);
    const { key } = TenantWithKeySchema.parse(rotated.body);
    expect(key).not.toBe(t.key);
    await expect(ask(t.key)).rejects.toMatchObject({ status: 401 });
    await ask(key);
    const revoked = await admin("DELETE", `/v1/admin/tenants/${t.id}/key`);
    expect(TenantSchema.parse(revoked.body).key_set).toBe(false);
    await expect(ask(key)).rejects.toMatchObject({ status: 401 });
  });

  it("sets settings with validation; bad input changes nothing", async () => {
    const t = await create();
    const ok = await admin("PATCH", `/v1/admin/tenants/${t.id}/settings`, {
      canonicalize: { toolOrder: false },
      keepalive: { enabled: false, maxPingsPerEntry: 3 },
    });
    expect(ok.status).toBe(200);
    const after = TenantSchema.parse(ok.body);
    expect(after.canonicalize).toEqual({ toolOrder: false });
    expect(after.keepalive).toMatchObject({ enabled: false, maxPingsPerEntry: 3 });
    const bad: [unknown, string][] = [
      [{ keepalive: { maxUsdPerDay: -1 } }, "keepalive.maxUsdPerDay"],
      [{ keepalive: { enabled: "yes" } }, "keepalive.enabled"],
      [{ canonicalize: { sortEverything: true } }, "canonicalize"],
      [{ colour: "blue" }, ""],
      [{}, ""],
    ];
    for (const [body, param] of bad) {
      const res = await admin("PATCH", `/v1/admin/tenants/${t.id}/settings`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const e = ErrorSchema.parse(res.body);
      if (param) expect(e.error.param).toBe(param);
    }
    const unchanged = TenantSchema.parse((await admin("GET", `/v1/admin/tenants/${t.id}`)).body);
    expect(unchanged).toEqual(after);
    const notJson = await workerFetch(`${STOKER}/v1/admin/tenants/${t.id}/settings`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: "{not json",
    });
    expect(notJson.status).toBe(400);
    expect(
      (await admin("PATCH", "/v1/admin/tenants/nobody-here/settings", { keepalive: { enabled: true } }))
        .status,
    ).toBe(404);
    expect((await admin("GET", "/v1/admin/tenants/bad%20id")).status).toBe(400);
  });

  it("deletes a tenant and all its data", async () => {
    const t = await create();
    await ask(t.key);
    await totalsAfter(t.id, 1);
    const del = await admin("DELETE", `/v1/admin/tenants/${t.id}`);
    expect(del.status).toBe(200);
    expect((await tracker(t.id).totals()).requests).toBe(0);
    const rows = await runInDurableObject(tracker(t.id), (_i, state) =>
      state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM prefixes").one(),
    );
    expect(rows.n).toBe(0);
    expect((await admin("GET", `/v1/admin/tenants/${t.id}`)).status).toBe(404);
    await expect(ask(t.key)).rejects.toMatchObject({ status: 401 });
    expect((await admin("DELETE", `/v1/admin/tenants/${t.id}`)).status).toBe(404);
    expect((await admin("DELETE", "/v1/admin/tenants/alpha")).status).toBe(409);
  });

  it("audits every change with who and what, never a secret", async () => {
    const t = await create();
    const secret = "sk-openai-tenant-secret-987654321";
    await admin("PUT", `/v1/admin/tenants/${t.id}/provider-keys`, { openai: secret });
    const { key } = TenantWithKeySchema.parse(
      (await admin("POST", `/v1/admin/tenants/${t.id}/rotate-key`)).body,
    );
    const log = AuditSchema.parse((await admin("GET", "/v1/admin/audit?limit=200")).body);
    const mine = log.entries.filter((e) => e.tenant === t.id);
    expect(mine.map((e) => e.action)).toEqual(["tenant.key.rotate", "tenant.provider_keys", "tenant.create"]);
    expect(mine.every((e) => e.actor === "ops@example.com" && e.request_id.startsWith("req_stk_"))).toBe(
      true,
    );
    expect(mine[1]?.detail).toEqual({ openai: "set" });
    const all = JSON.stringify(log);
    for (const s of [secret, key, t.key, ADMIN_TOKEN]) expect(all).not.toContain(s);
    // Paging goes back in time without overlap.
    const p1 = AuditSchema.parse((await admin("GET", "/v1/admin/audit?limit=2")).body);
    const p2 = AuditSchema.parse(
      (await admin("GET", `/v1/admin/audit?limit=2&cursor=${p1.next_cursor}`)).body,
    );
    expect(p2.entries[0]?.id).toBeLessThan(p1.entries[1]?.id ?? 0);
  });
});

describe("admin API: who may call it", () => {
  it("needs the admin token: none, a wrong one, or a tenant key get 401", async () => {
    for (const token of [null, "not-the-admin-token-at-all", TEST_TENANTS.alpha]) {
      const res = await admin("GET", "/v1/admin/tenants", undefined, token);
      expect(res.status).toBe(401);
      expect(ErrorSchema.parse(res.body).error.code).toBe("invalid_api_key");
    }
    const created = await admin("POST", "/v1/admin/tenants", { id: newId() }, TEST_TENANTS.alpha);
    expect(created.status).toBe(401);
  });

  it("is off (404) when ADMIN_TOKEN is unset", async () => {
    const app = createApp();
    const ctx = createExecutionContext();
    const res = await app.fetch(
      new Request(`${STOKER}/v1/admin/tenants`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }),
      { ...env, ADMIN_TOKEN: undefined },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(404);
    expect(ErrorSchema.parse(await res.json()).error.message).toMatch(/ADMIN_TOKEN/);
  });

  it("lists config tenants first, then created ones, page by page", async () => {
    const first = await admin("GET", "/v1/admin/tenants?limit=2");
    const body = first.body as { tenants: { id: string; source: string }[]; next_cursor: string };
    expect(body.tenants.map((t) => t.id)).toEqual(["alpha", "beta"]);
    expect(body.tenants[0]?.source).toBe("config");
    expect(body.next_cursor).toBe("2");
  });
});

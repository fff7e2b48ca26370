import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TenantSchema, TenantWithKeySchema } from "../../src/analytics/schemas.ts";
import type { TenantDirectory } from "../../src/tenants/directory.ts";
import { forgetResolved } from "../../src/tenants/resolve.ts";
import { anthropic, longText, namespace, STOKER, simRequests, workerFetch } from "../support/clients.ts";
import { justBeforeLapse, keepaliveRows, seedFamilyHistory, twoTurns } from "../support/keepalive.ts";
import { ADMIN_TOKEN, UPSTREAM_KEYS } from "../support/tenants.ts";
import { tracker } from "../support/tracker.ts";

const directoryStub = () => {
  const ns = env.TENANT_DIRECTORY as DurableObjectNamespace<TenantDirectory>;
  return ns.get(ns.idFromName("global"));
};

async function admin(method: string, path: string, body?: unknown) {
  const res = await workerFetch(`${STOKER}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as unknown };
}

const OWN = "sk-ant-tenant-own-key-for-broken-test";

/** A directory tenant with its own Anthropic key, then that key's sealed bytes damaged (as after a secret change). */
async function tenantWithBrokenKey() {
  const id = `pk-${crypto.randomUUID().slice(0, 8)}`;
  const created = await admin("POST", "/v1/admin/tenants", { id });
  expect(created.status).toBe(201);
  const { key } = TenantWithKeySchema.parse(created.body);
  expect((await admin("PUT", `/v1/admin/tenants/${id}/provider-keys`, { anthropic: OWN })).status).toBe(200);
  const breakKey = () =>
    runInDurableObject(directoryStub(), (_d, state) => {
      const row = state.storage.sql
        .exec<{ sealed: ArrayBuffer }>("SELECT sealed FROM provider_keys WHERE tenant = ?", id)
        .one();
      const bytes = new Uint8Array(row.sealed.slice(0));
      bytes[0] = (bytes[0] ?? 0) ^ 0xff;
      state.storage.sql.exec("UPDATE provider_keys SET sealed = ? WHERE tenant = ?", bytes.buffer, id);
      forgetResolved();
    });
  return { id, key, breakKey };
}

const ask = (key: string, ns: string) =>
  anthropic(ns, { apiKey: key }).messages.create({
    model: "claude-sonnet-4-6",
    max_tokens: 8,
    system: longText(1500),
    messages: [{ role: "user", content: "hi" }],
  });

describe("a tenant's own provider key fails closed", () => {
  it("a key that no longer opens gets a 403, never the deploy's key, and shows as broken", async () => {
    const t = await tenantWithBrokenKey();
    const ns = namespace();
    await ask(t.key, ns);
    expect((await simRequests(ns))[0]?.headers["x-api-key"]).toBe(OWN);
    await t.breakKey();
    const ns2 = namespace();
    const err = await ask(t.key, ns2).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 403, error: { type: "error", error: { type: "permission_error" } } });
    expect(JSON.stringify(err)).not.toContain(OWN);
    expect(await simRequests(ns2)).toHaveLength(0);
    // An OpenAI request of the same tenant (no own OpenAI key) still goes out with the deploy's key.
    const got = TenantSchema.parse((await admin("GET", `/v1/admin/tenants/${t.id}`)).body);
    expect(got.provider_key_state).toEqual({
      anthropic: "broken",
      openai: "unset",
      gemini: "unset",
      bedrock: "unset",
    });
    expect(got.provider_keys).toEqual({ anthropic: true, openai: false, gemini: false, bedrock: false });
    // Setting it again repairs it.
    await admin("PUT", `/v1/admin/tenants/${t.id}/provider-keys`, { anthropic: OWN });
    const ns3 = namespace();
    await ask(t.key, ns3);
    expect((await simRequests(ns3))[0]?.headers["x-api-key"]).toBe(OWN);
    expect((await simRequests(ns3))[0]?.headers["x-api-key"]).not.toBe(UPSTREAM_KEYS.anthropic);
  });

  it("keepalive pings stop for a broken key instead of using the deploy's", async () => {
    const t = await tenantWithBrokenKey();
    const ns = namespace();
    const client = anthropic(ns, { apiKey: t.key });
    const { row } = await twoTurns(client, t.id);
    await seedFamilyHistory(t.id, row.family, 2, 0.8);
    await t.breakKey();
    const { sweepAt } = await justBeforeLapse(ns, row, 0);
    const before = (await simRequests(ns)).length;
    const report = await tracker(t.id).runKeepalive(sweepAt);
    expect(report.pinged).toBe(0);
    expect(report.stopped).toBe(1);
    expect(await simRequests(ns)).toHaveLength(before);
    expect((await keepaliveRows(t.id))[0]?.note).toBe("own-key-unusable");
  });
});

describe("a tenant's own compat key fails closed too", () => {
  it("a compat key that no longer opens gets a 403 in OpenAI's shape, never the deploy's key, and shows as broken", async () => {
    const id = `pkc-${crypto.randomUUID().slice(0, 8)}`;
    const created = await admin("POST", "/v1/admin/tenants", { id });
    const { key } = TenantWithKeySchema.parse(created.body);
    const own = "sk-deepseek-tenant-own-for-broken-test";
    expect(
      (await admin("PUT", `/v1/admin/tenants/${id}/provider-keys`, { compat: { deepseek: own } })).status,
    ).toBe(200);
    const send = (ns: string) =>
      workerFetch(`${STOKER}/compat/deepseek/v1/chat/completions`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${key}`,
          "content-type": "application/json",
          "x-sim-namespace": ns,
        },
        body: JSON.stringify({ model: "deepseek-flash", messages: [{ role: "user", content: "hi" }] }),
      });
    const ns = namespace();
    expect((await send(ns)).status).toBe(200);
    expect((await simRequests(ns))[0]?.headers.authorization).toBe(`Bearer ${own}`);
    await runInDurableObject(directoryStub(), (_d, state) => {
      const row = state.storage.sql
        .exec<{ sealed: ArrayBuffer }>("SELECT sealed FROM provider_keys WHERE tenant = ?", id)
        .one();
      const bytes = new Uint8Array(row.sealed.slice(0));
      bytes[0] = (bytes[0] ?? 0) ^ 0xff;
      state.storage.sql.exec("UPDATE provider_keys SET sealed = ? WHERE tenant = ?", bytes.buffer, id);
      forgetResolved();
    });
    const ns2 = namespace();
    const res = await send(ns2);
    expect(res.status).toBe(403);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ error: { type: "invalid_request_error", code: null } });
    expect(text).not.toContain(own);
    expect(await simRequests(ns2)).toHaveLength(0);
    const got = TenantSchema.parse((await admin("GET", `/v1/admin/tenants/${id}`)).body);
    expect(got.compat_key_state).toEqual({ deepseek: "broken" });
  });
});

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { SummarySchema, TenantSchema, TenantWithKeySchema } from "../../src/analytics/schemas.ts";
import type { TenantDirectory } from "../../src/tenants/directory.ts";
import { KNOWN_TTL_MS, resolveTenant } from "../../src/tenants/resolve.ts";
import { anthropic, longText, namespace, STOKER, simFault, workerFetch } from "../support/clients.ts";
import { gpuPost, poolObject, prose } from "../support/gpu.ts";
import { justBeforeLapse, keepaliveRows, seedFamilyHistory, twoTurns } from "../support/keepalive.ts";
import { ADMIN_TOKEN } from "../support/tenants.ts";
import { totalsAfter, tracker } from "../support/tracker.ts";

async function admin(method: string, path: string, body?: unknown) {
  const res = await workerFetch(`${STOKER}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as unknown };
}

async function create(id: string) {
  const res = await admin("POST", "/v1/admin/tenants", { id });
  expect(res.status).toBe(201);
  return TenantWithKeySchema.parse(res.body);
}

const rows = (scope: string) =>
  runInDurableObject(
    tracker(scope),
    (_t, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM requests").one().n,
  );

const directoryStub = () => {
  const ns = env.TENANT_DIRECTORY as DurableObjectNamespace<TenantDirectory>;
  return ns.get(ns.idFromName("global"));
};

describe("deleting a tenant", () => {
  it("create, stream, delete mid-stream, recreate: the new tenant starts empty", async () => {
    const id = `life-${crypto.randomUUID().slice(0, 8)}`;
    const first = await create(id);
    expect(first.tenant.generation).toBe(0);
    const ns = namespace();
    await simFault(ns, { stream_delay_ms: 150 });
    const res = await workerFetch(`${STOKER}/anthropic/v1/messages`, {
      method: "POST",
      headers: {
        "x-api-key": first.key,
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "x-sim-namespace": ns,
      },
      body: JSON.stringify({
        model: "claude-sonnet-4-6",
        max_tokens: 16,
        stream: true,
        system: longText(1500),
        messages: [{ role: "user", content: "hi" }],
      }),
    });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    expect((await admin("DELETE", `/v1/admin/tenants/${id}`)).status).toBe(200);
    while (!(await reader.read()).done);
    await new Promise((r) => setTimeout(r, 200)); // the record lands after the stream, via waitUntil
    expect(await rows(id)).toBe(0);

    const second = await create(id);
    expect(second.tenant.generation).toBe(1);
    expect(second.tenant.storage.rows.requests).toBe(0);
    const summary = await workerFetch(`${STOKER}/v1/analytics/summary`, {
      headers: { authorization: `Bearer ${second.key}` },
    });
    expect(SummarySchema.parse(await summary.json()).requests).toBe(0);
    // The old key opens nothing; the new one works and lands in the new scope only.
    await expect(
      anthropic(namespace(), { apiKey: first.key }).messages.create({
        model: "claude-sonnet-4-6",
        max_tokens: 8,
        messages: [{ role: "user", content: "hi" }],
      }),
    ).rejects.toMatchObject({ status: 401 });
    await anthropic(namespace(), { apiKey: second.key }).messages.create({
      model: "claude-sonnet-4-6",
      max_tokens: 8,
      messages: [{ role: "user", content: "hi" }],
    });
    await totalsAfter(`${id}~1`, 1);
    expect(await rows(`${id}~1`)).toBe(1);
    expect(await rows(id)).toBe(0);
    const got = TenantSchema.parse((await admin("GET", `/v1/admin/tenants/${id}`)).body);
    expect(got.storage.rows.requests).toBe(1);
  });
});

describe("deleting a tenant's GPU keepalive rows", () => {
  it("purges the sealed prompts every pool keeps for it", async () => {
    const id = `gpu-${crypto.randomUUID().slice(0, 8)}`;
    const t = await create(id);
    const touches = () =>
      runInDurableObject(
        poolObject("ka"),
        (_p, state) =>
          state.storage.sql
            .exec<{ n: number }>("SELECT COUNT(*) AS n FROM touches WHERE tenant = ?", id)
            .one().n,
      );
    const messages = [{ role: "user", content: `${crypto.randomUUID()} ${prose(1800, "life")}` }];
    const first = await gpuPost("ka", "chat/completions", t.key, { model: "m", max_tokens: 4, messages });
    const answer = ((await first.json()) as { choices: { message: { content: string } }[] }).choices[0]
      ?.message.content;
    const second = await gpuPost("ka", "chat/completions", t.key, {
      model: "m",
      max_tokens: 4,
      messages: [...messages, { role: "assistant", content: answer }, { role: "user", content: "and then?" }],
    });
    await second.arrayBuffer();
    await expect.poll(touches).toBe(1);
    expect((await admin("DELETE", `/v1/admin/tenants/${id}`)).status).toBe(200);
    expect(await touches()).toBe(0);
  });
});

describe("revocation", () => {
  it(`another isolate accepts a revoked key for at most KNOWN_TTL_MS (${KNOWN_TTL_MS / 1000} s)`, async () => {
    const id = `rev-${crypto.randomUUID().slice(0, 8)}`;
    const t = await create(id);
    const t0 = Date.now();
    expect((await resolveTenant(t.key, [], env, t0))?.id).toBe(id);
    // Revoked through the directory itself, as another isolate's admin call would: this isolate is not told.
    await directoryStub().revokeKey(id, { actor: "test", requestId: "req_test" });
    expect((await resolveTenant(t.key, [], env, t0 + KNOWN_TTL_MS - 1))?.id).toBe(id);
    expect(await resolveTenant(t.key, [], env, t0 + KNOWN_TTL_MS)).toBeNull();
  });

  it("a revoked tenant's keepalive stops at once", async () => {
    const id = `rka-${crypto.randomUUID().slice(0, 8)}`;
    const t = await create(id);
    const ns = namespace();
    const client = anthropic(ns, { apiKey: t.key });
    const { row } = await twoTurns(client, id);
    await seedFamilyHistory(id, row.family, 2, 0.8);
    expect((await admin("DELETE", `/v1/admin/tenants/${id}/key`)).status).toBe(200);
    const { sweepAt } = await justBeforeLapse(ns, row, 0);
    const report = await tracker(id).runKeepalive(sweepAt);
    expect(report.pinged).toBe(0);
    expect(report.stopped).toBe(1);
    expect((await keepaliveRows(id))[0]?.note).toBe("tenant-inactive");
  });
});

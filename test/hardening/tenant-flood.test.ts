import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TenantWithKeySchema } from "../../src/analytics/schemas.ts";
import type { TenantDirectory } from "../../src/tenants/directory.ts";
import {
  FAILED_LOOKUPS_PER_WINDOW,
  KNOWN_TTL_MS,
  MAX_UNKNOWN,
  resolverSizes,
  resolveTenant,
  STALE_IF_ERROR_MS,
} from "../../src/tenants/resolve.ts";
import { longText, namespace, STOKER, workerFetch } from "../support/clients.ts";
import { ADMIN_TOKEN } from "../support/tenants.ts";

const directoryStub = () => {
  const ns = env.TENANT_DIRECTORY as DurableObjectNamespace<TenantDirectory>;
  return ns.get(ns.idFromName("global"));
};
const lookups = () => runInDurableObject(directoryStub(), (d) => d.lookups);

async function createTenant(): Promise<{ id: string; key: string }> {
  const id = `flood-${crypto.randomUUID().slice(0, 8)}`;
  const res = await workerFetch(`${STOKER}/v1/admin/tenants`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ id }),
  });
  expect(res.status).toBe(201);
  return { id, key: TenantWithKeySchema.parse(await res.json()).key };
}

const ask = (key: string, ip: string) =>
  workerFetch(`${STOKER}/anthropic/v1/messages`, {
    method: "POST",
    headers: {
      "x-api-key": key,
      "cf-connecting-ip": ip,
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      "x-sim-namespace": namespace(),
    },
    body: JSON.stringify({
      model: "claude-sonnet-4-6",
      max_tokens: 8,
      system: longText(1200),
      messages: [{ role: "user", content: "hi" }],
    }),
  });

/** A key of the issued form (`sk-stoker-` + 43 base64url characters) that no tenant holds. */
const wellFormed = (i: number) => `sk-stoker-${`flood${i}`.padEnd(43, "x")}`;

async function inBatches<T>(n: number, batch: number, f: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += batch) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, j) => f(i + j)))));
  }
  return out;
}

describe("tenant directory under a flood of unknown keys", () => {
  it("answers malformed keys with a 401 and never asks the directory", async () => {
    const before = await lookups();
    const keys = [
      "sk-stoker-short",
      "nope",
      `sk-stoker-${"a".repeat(44)}`,
      `sk-stoker-${"!".repeat(43)}`,
      "x".repeat(65_536),
    ];
    const answers = await inBatches(500, 50, (i) =>
      ask(`${keys[i % keys.length]}${i % 7 === 0 ? "" : i}`, `198.51.100.${i % 250}`),
    );
    for (const res of answers) {
      expect(res.status).toBe(401);
      const body = (await res.json()) as { type: string; error: { type: string; message: string } };
      expect(body.type).toBe("error");
      expect(body.error.type).toBe("authentication_error");
    }
    expect(await lookups()).toBe(before);
  });

  it("limits each client's failed lookups; other clients and known tenants are unaffected", async () => {
    const t = await createTenant();
    const r0 = await ask(t.key, "203.0.113.9");
    expect(r0.status).toBe(200);
    await r0.text();
    const before = await lookups();
    const statuses = [];
    for (let i = 0; i < FAILED_LOOKUPS_PER_WINDOW + 30; i++) {
      const res = await ask(wellFormed(100_000 + i), "203.0.113.7");
      statuses.push(res.status);
      if (res.status === 429) {
        expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
        const body = (await res.json()) as { error: { type: string } };
        expect(body.error.type).toBe("rate_limit_error");
      } else await res.body?.cancel();
    }
    expect(statuses.filter((s) => s === 401)).toHaveLength(FAILED_LOOKUPS_PER_WINDOW);
    expect(statuses.filter((s) => s === 429)).toHaveLength(30);
    expect((await lookups()) - before).toBe(FAILED_LOOKUPS_PER_WINDOW);
    // Another client still gets its 401; the known tenant, cached, is served without a directory call.
    expect((await ask(wellFormed(199_999), "203.0.113.8")).status).toBe(401);
    const mid = await lookups();
    const r1 = await ask(t.key, "203.0.113.7");
    expect(r1.status).toBe(200);
    await r1.text();
    expect(await lookups()).toBe(mid);
  });

  it("keeps a valid tenant cached through 12,000 distinct unknown keys from distinct clients", async () => {
    const t = await createTenant();
    expect((await ask(t.key, "192.0.2.1")).status).toBe(200);
    const flood = 12_000;
    const started = Date.now();
    const results = await inBatches(flood, 200, (i) =>
      resolveTenant(
        wellFormed(i),
        [],
        env,
        Date.now(),
        `2001:db8:${(i >> 8).toString(16)}:${(i & 255).toString(16)}::/64`,
      ),
    );
    const ms = Date.now() - started;
    expect(results.every((r) => r === null)).toBe(true);
    expect(resolverSizes().unknown).toBeLessThanOrEqual(MAX_UNKNOWN);
    // The valid tenant's entry survived: its next request costs no directory call.
    const before = await lookups();
    expect((await ask(t.key, "192.0.2.1")).status).toBe(200);
    expect(await lookups()).toBe(before);
    console.log(`FLOOD ${flood} unknown keys in ${ms} ms; caches ${JSON.stringify(resolverSizes())}`);
  });

  it("coalesces concurrent lookups of one key into one directory call", async () => {
    const before = await lookups();
    const key = wellFormed(777_777);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => resolveTenant(key, [], env, Date.now(), "198.18.0.1")),
    );
    expect(results.every((r) => r === null)).toBe(true);
    expect((await lookups()) - before).toBe(1);
  });

  it("serves a tenant it knew while the directory cannot answer, for at most STALE_IF_ERROR_MS", async () => {
    const t = await createTenant();
    const t0 = Date.now();
    expect((await resolveTenant(t.key, [], env, t0))?.id).toBe(t.id);
    // The directory binding of an overloaded deploy: every call fails.
    const down = {
      ...env,
      TENANT_DIRECTORY: {
        idFromName: (name: string) => env.TENANT_DIRECTORY.idFromName(name),
        get: () => ({ resolve: () => Promise.reject(new Error("overloaded")) }),
      },
    } as unknown as Env;
    const expired = t0 + KNOWN_TTL_MS + 1;
    expect((await resolveTenant(t.key, [], down, expired))?.id).toBe(t.id);
    await expect(resolveTenant(t.key, [], down, t0 + KNOWN_TTL_MS + STALE_IF_ERROR_MS + 1)).rejects.toThrow();
    // A key it never knew gets no such grace.
    await expect(resolveTenant(wellFormed(888_888), [], down, expired, "198.18.0.2")).rejects.toThrow();
  });
});

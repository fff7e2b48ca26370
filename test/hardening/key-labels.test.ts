import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TenantSchema, TenantWithKeySchema } from "../../src/analytics/schemas.ts";
import { getConfig } from "../../src/core/config.ts";
import { open, type SealPurpose, seal, sealLegacyV1 } from "../../src/core/crypto.ts";
import type { TenantDirectory } from "../../src/tenants/directory.ts";
import { forgetResolved } from "../../src/tenants/resolve.ts";
import { anthropic, namespace, STOKER, simRequests, workerFetch } from "../support/clients.ts";
import {
  justBeforeLapse,
  keepaliveRows,
  seedFamilyHistory,
  twoTurnConversation,
} from "../support/keepalive.ts";
import { ADMIN_TOKEN } from "../support/tenants.ts";
import { tracker } from "../support/tracker.ts";

const secret = () => getConfig(env).secret;
const directoryStub = () => {
  const ns = env.TENANT_DIRECTORY as DurableObjectNamespace<TenantDirectory>;
  return ns.get(ns.idFromName("global"));
};

describe("key derivation: one label per purpose, the tenant's generation in the scope", () => {
  it("a value sealed for one purpose or scope opens for no other", async () => {
    const purposes: SealPurpose[] = ["keepalive", "excerpt", "provider-key", "gpu-touch"];
    for (const p of purposes) {
      const sealed = await seal(secret(), "acme", "ctx", "text", p);
      expect(await open(secret(), "acme", "ctx", sealed, p)).toBe("text");
      for (const q of purposes)
        if (q !== p) await expect(open(secret(), "acme", "ctx", sealed, q, true)).rejects.toThrow();
      await expect(open(secret(), "acme~1", "ctx", sealed, p, true)).rejects.toThrow();
    }
  });

  it("a provider key sealed before (v1) is migrated on wake and still used", async () => {
    const id = `kdf-${crypto.randomUUID().slice(0, 8)}`;
    const res = await workerFetch(`${STOKER}/v1/admin/tenants`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ id }),
    });
    const { key } = TenantWithKeySchema.parse(await res.json());
    const own = "sk-ant-sealed-under-v1-0123456789";
    const v1 = await sealLegacyV1(secret(), id, `provider-key:${id}:anthropic`, own);
    await runInDurableObject(directoryStub(), (_d, state) => {
      state.storage.sql.exec(
        "INSERT INTO provider_keys (tenant, provider, iv, sealed, set_at, kdf) VALUES (?, 'anthropic', ?, ?, ?, 1)",
        id,
        v1.iv,
        v1.data,
        Date.now(),
      );
    });
    forgetResolved();
    // Still opens before the migration (the v1 row is read with the v1 label).
    const get = async () =>
      TenantSchema.parse(
        await (
          await workerFetch(`${STOKER}/v1/admin/tenants/${id}`, {
            headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
          })
        ).json(),
      );
    expect((await get()).provider_key_state.anthropic).toBe("set");
    const report = await directoryStub().migrateProviderKeys();
    expect(report.migrated).toBeGreaterThanOrEqual(1);
    expect(report.failed).toBe(0);
    const row = await runInDurableObject(directoryStub(), (_d, state) =>
      state.storage.sql
        .exec<{ kdf: number; sealed: ArrayBuffer }>(
          "SELECT kdf, sealed FROM provider_keys WHERE tenant = ?",
          id,
        )
        .one(),
    );
    expect(row.kdf).toBe(2);
    expect(new Uint8Array(row.sealed)).not.toEqual(new Uint8Array(v1.data));
    expect((await get()).provider_key_state.anthropic).toBe("set");
    const ns = namespace();
    await anthropic(ns, { apiKey: key }).messages.create({
      model: "claude-sonnet-4-6",
      max_tokens: 8,
      messages: [{ role: "user", content: "hi" }],
    });
    expect((await simRequests(ns))[0]?.headers["x-api-key"]).toBe(own);
  });

  it("a keepalive body sealed before (v1) still opens: its ping goes out", async () => {
    const { ns, t, row } = await twoTurnConversation();
    await seedFamilyHistory(t.id, row.family, 2, 0.8);
    // Re-seal the stored body as it was sealed before v2.
    await runInDurableObject(tracker(t.id), async (_t, state) => {
      const r = state.storage.sql
        .exec<{ conversation: string; hash: string; iv: ArrayBuffer; sealed: ArrayBuffer }>(
          "SELECT conversation, hash, iv, sealed FROM keepalive",
        )
        .one();
      const plain = await open(secret(), t.id, r.hash, { iv: r.iv, data: r.sealed }, "keepalive");
      const v1 = await sealLegacyV1(secret(), t.id, r.hash, plain);
      state.storage.sql.exec(
        "UPDATE keepalive SET iv = ?, sealed = ? WHERE conversation = ?",
        v1.iv,
        v1.data,
        r.conversation,
      );
    });
    const { sweepAt } = await justBeforeLapse(ns, row, 0);
    const report = await tracker(t.id).runKeepalive(sweepAt);
    expect(report.pinged).toBe(1);
    expect((await keepaliveRows(t.id))[0]?.pings).toBe(1);
  });
});

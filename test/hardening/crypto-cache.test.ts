import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getConfig } from "../../src/core/config.ts";
import { open, seal } from "../../src/core/crypto.ts";
import { tenantSalt } from "../../src/edge/prepare.ts";

describe("per-isolate crypto caches are keyed by secret and tenant", () => {
  it("a key derived under one STOKER_SECRET never opens what another sealed", async () => {
    const tenant = `cc-${crypto.randomUUID()}`;
    const sealed = await seal("secret-one-0123456789", tenant, "ctx", "sealed text", "keepalive");
    expect(await open("secret-one-0123456789", tenant, "ctx", sealed, "keepalive")).toBe("sealed text");
    await expect(open("secret-two-0123456789", tenant, "ctx", sealed, "keepalive", true)).rejects.toThrow();
  });

  it("the chain salt follows the secret", () => {
    const tenant = `cc-${crypto.randomUUID()}`;
    const one = getConfig({ ...env, STOKER_SECRET: "secret-one-0123456789" } as Env);
    const two = getConfig({ ...env, STOKER_SECRET: "secret-two-0123456789" } as Env);
    expect(tenantSalt(one, tenant)).not.toBe(tenantSalt(two, tenant));
    expect(tenantSalt(one, tenant)).toBe(tenantSalt(one, tenant));
  });
});

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getConfig } from "../../src/core/config.ts";
import { saltsCached, tenantSalt } from "../../src/edge/prepare.ts";
import { cacheSalt, gpuSaltsCached } from "../../src/gpu/salt.ts";

// What an isolate keeps across requests is bounded (issue 18, RSS under load): the per-tenant salt caches
// had no bound (one entry per tenant scope and secret, for the isolate's life).
describe("isolate caches keyed by tenant are bounded", () => {
  it("chain salts and GPU cache salts: at most 10,000 entries however many tenants an isolate serves", () => {
    const config = getConfig(env);
    for (let i = 0; i < 12_000; i++) {
      tenantSalt(config, `bound-${i}`);
      cacheSalt(config.secret, `bound-${i}`, null);
    }
    expect(saltsCached()).toBeLessThanOrEqual(10_000);
    expect(gpuSaltsCached()).toBeLessThanOrEqual(10_000);
    // Still correct after a clear: the same tenant gets the same salt.
    expect(tenantSalt(config, "bound-1")).toBe(tenantSalt(config, "bound-1"));
  });
});

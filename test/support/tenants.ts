import { createHash } from "node:crypto";

/** Tenants the test worker knows (its TENANTS binding is built from this list in vitest.config.ts). */
export const TEST_TENANTS = {
  alpha: "sk-stoker-test-alpha",
  beta: "sk-stoker-test-beta",
} as const;

/** The provider key the test worker holds for managed mode; it must reach the upstream, never the tenant key. */
export const UPSTREAM_KEYS = {
  anthropic: "sk-ant-upstream-test",
  openai: "sk-openai-upstream-test",
  gemini: "AIza-gemini-upstream-test",
} as const;

/**
 * The AWS credentials the test worker signs Bedrock requests with (SigV4): the simulator's known pair
 * (sim/bedrock/auth.ts), so a wrong signature is refused there.
 */
export const AWS_TEST_CREDENTIALS = {
  accessKeyId: "AKIASTOKERSIMULATOR1",
  secretAccessKey: "stoker-simulator-secret-access-key-000000",
} as const;

/** The admin API's bearer token in the test worker. */
export const ADMIN_TOKEN = "stoker-admin-test-token";

/** Tenants for tests that read a tenant's whole tracker: one each, so totals are theirs alone. */
export const POOL_SIZE = 40;
export const poolTenant = (i: number) => ({ id: `pool${i}`, key: `sk-stoker-test-pool-${i}` });

let nextPool = 0;
/** A tenant no other test in this file uses (storage is isolated per test file). */
export function freshTenant(): { id: string; key: string } {
  if (nextPool >= POOL_SIZE) throw new Error("test tenant pool exhausted: raise POOL_SIZE");
  return poolTenant(nextPool++);
}

/** A tenant whose config switches every canonicalization rule off. */
export const RAW_TENANT = { id: "raw", key: "sk-stoker-test-raw" };

/** A tenant whose config switches Gemini explicit caches off (`cache.geminiExplicit: false`). */
export const NO_EXPLICIT_TENANT = { id: "noexplicit", key: "sk-stoker-test-noexplicit" };

const hash = (key: string) => createHash("sha256").update(key).digest("hex");

export function tenantsJson(): string {
  const all = [
    ...Object.entries(TEST_TENANTS).map(([id, key]) => ({ id, key })),
    ...Array.from({ length: POOL_SIZE }, (_, i) => poolTenant(i)),
  ];
  const off = { schemaKeys: false, argumentKeys: false, toolOrder: false, lineEndings: false };
  return JSON.stringify([
    ...all.map(({ id, key }) => ({ id, key_sha256: hash(key) })),
    { id: RAW_TENANT.id, key_sha256: hash(RAW_TENANT.key), canonicalize: off },
    {
      id: NO_EXPLICIT_TENANT.id,
      key_sha256: hash(NO_EXPLICIT_TENANT.key),
      cache: { geminiExplicit: false },
    },
  ]);
}

/** A model only the test worker's MODEL_PRICES knows: an Anthropic model with a 64k-token minimum. */
export const HIGH_MINIMUM_MODEL = "claude-stoker-test-64k";

/** The test worker's MODEL_PRICES: one model added over the built-in table. */
export function modelPricesJson(): string {
  return JSON.stringify({ [HIGH_MINIMUM_MODEL]: { provider: "anthropic", minCacheableTokens: 64_000 } });
}

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
} as const;

export function tenantsJson(): string {
  return JSON.stringify(
    Object.entries(TEST_TENANTS).map(([id, key]) => ({
      id,
      key_sha256: createHash("sha256").update(key).digest("hex"),
    })),
  );
}

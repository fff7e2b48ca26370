import { createHash, randomBytes } from "node:crypto";

/**
 * The overhead benchmarks' Stoker: one managed tenant (its key stored as its SHA-256, a fresh key per run)
 * and the vars that point Stoker's upstreams at the simulator at `simUrl`.
 */
export function benchTenant(simUrl: string): { tenantKey: string; vars: Record<string, string> } {
  const tenantKey = `sk-stoker-bench-${randomBytes(16).toString("hex")}`;
  return {
    tenantKey,
    vars: {
      ANTHROPIC_UPSTREAM_URL: `${simUrl}/anthropic`,
      OPENAI_UPSTREAM_URL: `${simUrl}/openai`,
      STOKER_SIMULATOR: "1",
      TENANTS: JSON.stringify([
        { id: "bench", key_sha256: createHash("sha256").update(tenantKey).digest("hex") },
      ]),
      // warn, not error: only faults log at warn (tracker.fault, engine.fault), and they are counted.
      LOG_LEVEL: "warn",
    },
  };
}

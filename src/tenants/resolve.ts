import type { TenantRecord } from "../config.ts";
import { directory } from "./directory.ts";
import { bumpTenantEpoch } from "./epoch.ts";
import { digestsEqual, sha256, toHex } from "./keys.ts";
import type { ResolvedTenant } from "./types.ts";

/**
 * How long an isolate trusts what the directory said about a key: a revoked or rotated key stops working
 * everywhere within this time (at once in the isolate that served the admin call). Unknown keys are
 * remembered for less, so a key just created works almost at once.
 */
export const KNOWN_TTL_MS = 30_000;
export const UNKNOWN_TTL_MS = 2_000;
const MAX_ENTRIES = 10_000;

const cache = new Map<string, { tenant: ResolvedTenant | null; until: number }>();

/** Forgets cached answers (all of them: the admin API does not know a tenant's old key hash). */
export function forgetResolved(): void {
  cache.clear();
  bumpTenantEpoch(); // and every other per-isolate cache of tenant state (src/edge/tracker-cache.ts)
}

/**
 * The tenant a key belongs to: the TENANTS config first (every entry compared in constant time), then the
 * tenant directory by the key's SHA-256. Throws when the directory cannot be reached.
 */
export async function resolveTenant(
  key: string,
  configTenants: readonly TenantRecord[],
  env: Env,
  nowMs = Date.now(),
): Promise<ResolvedTenant | null> {
  const digest = await sha256(key);
  let found: TenantRecord | null = null;
  for (const t of configTenants) if (digestsEqual(digest, t.keySha256) && found === null) found = t;
  if (found) return { id: found.id, canonicalize: found.canonicalize, cache: found.cache, providerKeys: {} };
  const hex = toHex(digest);
  const hit = cache.get(hex);
  if (hit && hit.until > nowMs) return hit.tenant;
  const tenant = await directory(env).resolve(hex);
  if (cache.size >= MAX_ENTRIES) cache.clear();
  cache.set(hex, { tenant, until: nowMs + (tenant ? KNOWN_TTL_MS : UNKNOWN_TTL_MS) });
  return tenant;
}

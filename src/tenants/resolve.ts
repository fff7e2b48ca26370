import type { TenantRecord } from "../core/config.ts";
import { BoundedLru } from "../core/lru.ts";
import { directory } from "./directory.ts";
import { bumpTenantEpoch } from "./epoch.ts";
import { digestsEqual, isIssuedKeyFormat, sha256, toHex } from "./keys.ts";
import type { ResolvedTenant } from "./types.ts";

/**
 * How long an isolate trusts what the directory said about a key: a revoked or rotated key stops working
 * everywhere within this time (at once in the isolate that served the admin call). Unknown keys are
 * remembered for less, so a key just created works almost at once.
 */
export const KNOWN_TTL_MS = 30_000;
export const UNKNOWN_TTL_MS = 2_000;
/**
 * When the directory cannot answer (overloaded by a flood, restarting), a tenant this isolate knew stays
 * served from its cached entry for up to this long after the entry expired: valid tenants do not depend on
 * the directory's health. This is also the revocation bound while the directory is unreachable.
 */
export const STALE_IF_ERROR_MS = 300_000;
/**
 * Valid tenants and unknown keys are cached apart, each an LRU of its own size: a flood of unknown keys
 * evicts only other unknown keys and never a valid tenant's entry.
 */
export const MAX_KNOWN = 10_000;
export const MAX_UNKNOWN = 10_000;
/** Well-formed keys the directory did not know, per client and window, before that client gets 429s. */
export const FAILED_LOOKUPS_PER_WINDOW = 20;
export const FAILED_LOOKUP_WINDOW_MS = 60_000;
const MAX_CLIENTS = 10_000;

const known = new BoundedLru<string, { tenant: ResolvedTenant; until: number }>(MAX_KNOWN);
const unknown = new BoundedLru<string, number>(MAX_UNKNOWN);
const failures = new BoundedLru<string, { count: number; since: number }>(MAX_CLIENTS);
/** One directory call per key hash at a time in this isolate; concurrent lookups of it wait for that one. */
const inflight = new Map<string, Promise<ResolvedTenant | null>>();

/** Why a key was refused before the directory was asked. */
export class TooManyFailedLookups extends Error {
  override name = "TooManyFailedLookups";
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number) {
    super("too many unknown tenant keys from this client");
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Forgets cached answers (all of them: the admin API does not know a tenant's old key hash). */
export function forgetResolved(): void {
  known.clear();
  unknown.clear();
  bumpTenantEpoch(); // and every other per-isolate cache of tenant state (src/tracker/client-cache.ts)
}

/** How many entries each per-isolate cache holds (for tests and the flood benchmark). */
export function resolverSizes(): { known: number; unknown: number; clients: number } {
  return { known: known.size, unknown: unknown.size, clients: failures.size };
}

/**
 * The client a failed-lookup budget belongs to: Cloudflare's `cf-connecting-ip`, IPv6 by its /64 (one host
 * owns a whole /64). Without the header (local dev) every caller shares one budget.
 */
export function clientOf(headers: Headers): string {
  const ip = headers.get("cf-connecting-ip")?.trim().toLowerCase() ?? "";
  if (ip === "") return "local";
  if (ip.includes(":")) return `${ip.split(":").slice(0, 4).join(":")}::/64`;
  return ip.slice(0, 64);
}

/**
 * The tenant a key belongs to: the TENANTS config first (every entry compared in constant time), then the
 * tenant directory by the key's SHA-256, for keys in the format the directory issues only. Throws
 * `TooManyFailedLookups` when the client has spent its budget of unknown keys, and anything else when the
 * directory cannot be reached.
 */
export async function resolveTenant(
  key: string,
  configTenants: readonly TenantRecord[],
  env: Env,
  nowMs = Date.now(),
  client = "local",
): Promise<ResolvedTenant | null> {
  const digest = await sha256(key);
  let found: TenantRecord | null = null;
  for (const t of configTenants) if (digestsEqual(digest, t.keySha256) && found === null) found = t;
  if (found)
    return {
      id: found.id,
      canonicalize: found.canonicalize,
      cache: found.cache,
      providerKeys: {},
      brokenProviderKeys: [],
    };
  // The directory only ever issued keys of this form: anything else cannot be there, and costs no call.
  if (!isIssuedKeyFormat(key)) return null;
  const hex = toHex(digest);
  const hit = known.get(hex);
  if (hit && hit.until > nowMs) return hit.tenant;
  const miss = unknown.peek(hex);
  if (miss !== undefined && miss > nowMs) return null;
  const budget = failures.peek(client);
  if (budget && nowMs - budget.since < FAILED_LOOKUP_WINDOW_MS && budget.count >= FAILED_LOOKUPS_PER_WINDOW) {
    throw new TooManyFailedLookups(Math.ceil((budget.since + FAILED_LOOKUP_WINDOW_MS - nowMs) / 1000));
  }
  let pending = inflight.get(hex);
  if (!pending) {
    pending = directory(env)
      .resolve(hex)
      .finally(() => inflight.delete(hex));
    inflight.set(hex, pending);
  }
  let tenant: ResolvedTenant | null;
  try {
    tenant = await pending;
  } catch (err) {
    if (hit && hit.until + STALE_IF_ERROR_MS > nowMs) return hit.tenant;
    throw err;
  }
  if (tenant) {
    unknown.delete(hex);
    known.set(hex, { tenant, until: nowMs + KNOWN_TTL_MS });
    return tenant;
  }
  known.delete(hex);
  unknown.set(hex, nowMs + UNKNOWN_TTL_MS);
  const b = failures.get(client);
  if (!b || nowMs - b.since >= FAILED_LOOKUP_WINDOW_MS) failures.set(client, { count: 1, since: nowMs });
  else b.count++;
  return null;
}

/** A tenant's keepalive settings; the defaults are documented in the README. */
export interface KeepaliveSettings {
  enabled: boolean;
  /** USD a tenant's pings may cost per UTC day; checked before each ping. */
  maxUsdPerDay: number;
  /** Pings one entry may get between two real requests. */
  maxPingsPerEntry: number;
  /** No pings for an entry whose last real use is older than this. */
  maxHorizonMs: number;
  /** Prefixes smaller than this are never pinged. */
  minPrefixTokens: number;
}

export const DEFAULT_KEEPALIVE: Readonly<KeepaliveSettings> = {
  enabled: true,
  maxUsdPerDay: 5,
  maxPingsPerEntry: 12,
  maxHorizonMs: 60 * 60_000,
  minPrefixTokens: 1024,
};

/** How long before an entry lapses its ping is sent: inside the TTL, with room for the round trip. */
export const PING_LEAD_MS = 20_000;

/** Merges a tenant's stored overrides (validated field by field) over the defaults. */
export function resolveKeepalive(
  stored: unknown,
  base: Readonly<KeepaliveSettings> = DEFAULT_KEEPALIVE,
): KeepaliveSettings {
  const out = { ...base };
  if (stored === null || typeof stored !== "object") return out;
  const s = stored as Record<string, unknown>;
  if (typeof s.enabled === "boolean") out.enabled = s.enabled;
  for (const k of ["maxUsdPerDay", "maxPingsPerEntry", "maxHorizonMs", "minPrefixTokens"] as const) {
    const v = s[k];
    if (typeof v === "number" && Number.isFinite(v) && v >= 0) out[k] = v;
  }
  return out;
}

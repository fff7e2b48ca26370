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

/**
 * The lead for entries of a given (shortest) TTL: PING_LEAD_MS, but never more than a quarter of the TTL. A
 * ping restarts the TTL, so with a lead as long as the TTL the refreshed entry would be due again at once
 * (at ANTHROPIC_CACHE_TTL_SECONDS=20 the alarm sent ~11 pings within 300 ms of a request); at a quarter the
 * next ping comes 3/4 of a TTL after this one, just before the believed expiry.
 */
export function pingLeadMs(ttlMs: number): number {
  return Math.max(1, Math.min(PING_LEAD_MS, Math.floor(ttlMs / 4)));
}

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

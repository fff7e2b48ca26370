/**
 * A tenant's cache planning settings (TENANTS config `cache`, or the admin API's `cache`); the defaults are
 * documented in the README's tenant settings table.
 */
export interface CacheSettings {
  /** Anthropic 1-hour writes may be chosen where they pay more than 5-minute ones. */
  allow1h: boolean;
  /** Stoker adds no breakpoints, cache key or retention (canonicalization still applies). */
  disabled: boolean;
  /**
   * OpenAI `prompt_cache_retention: "24h"` is set on models that accept it. Opt-in: it keeps the tenant's
   * prompt cache at the provider for up to a day, a data-retention choice the tenant makes.
   */
  retention24h: boolean;
  /**
   * Gemini explicit caches managed by Stoker (edge/gemini-explicit.ts): created where expected reuse pays
   * creation plus storage, TTL extended while returns pay it. On by default; `false` switches it off.
   */
  geminiExplicit: boolean;
}

export const DEFAULT_CACHE_SETTINGS: Readonly<CacheSettings> = {
  allow1h: true,
  disabled: false,
  retention24h: false,
  geminiExplicit: true,
};

export const CACHE_SETTING_NAMES = ["allow1h", "disabled", "retention24h", "geminiExplicit"] as const;

/** Merges stored overrides (booleans only; any other value is ignored) over `base`. */
export function resolveCacheSettings(
  stored: unknown,
  base: Readonly<CacheSettings> = DEFAULT_CACHE_SETTINGS,
): CacheSettings {
  const out = { ...base };
  if (stored === null || typeof stored !== "object") return out;
  const s = stored as Record<string, unknown>;
  for (const k of CACHE_SETTING_NAMES) {
    const v = s[k];
    if (typeof v === "boolean") out[k] = v;
  }
  return out;
}

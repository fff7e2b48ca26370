import type { CompatPreset } from "./compat-types.ts";

// Presets of COMPAT_UPSTREAMS (docs/providers.md). Each was checked on 2026-12-02 with the search tool against
// the provider's documentation; prices are USD per million tokens and change often: a deploy overrides them
// with `models` in its own entry. Where a page left a fact open, the note says which reading was taken.

/**
 * DeepSeek. Usage: `prompt_cache_hit_tokens` / `prompt_cache_miss_tokens`, hit + miss = `prompt_tokens`
 * (api-docs.deepseek.com/guides/kv_cache). Caching is automatic ("enabled by default for all users"), on disk,
 * best-effort; a cache unused for "a few hours to a few days" is cleared (same page), so Stoker sends no
 * keepalive. Older versions of the page: "64 tokens as a storage unit; content less than 64 tokens will not be
 * cached". Prices: api-docs.deepseek.com/quick_start/pricing (CNY, peak/off-peak) and its USD table as
 * republished 2026-10-27: deepseek-flash peak $0.30 miss / $0.006 hit / $1.20 out, deepseek-v4-pro peak $1.32 /
 * $0.044 / $3.96. The peak price is used (off-peak is half): the figure never overstates what a request saved
 * relative to its own input price, and a deploy billed off-peak can set its own.
 */
const deepseek: CompatPreset = {
  baseUrl: "https://api.deepseek.com",
  usage: { cached: ["prompt_cache_hit_tokens"], cacheWrite: [] },
  cacheControl: false,
  streamUsage: "include_usage",
  minCacheableTokens: 64,
  models: {
    "deepseek-flash": { input: 0.3, cachedInput: 0.006, output: 1.2 },
    "deepseek-v4-pro": { input: 1.32, cachedInput: 0.044, output: 3.96 },
    // An old name, served by the current Flash model at its price (pricing page, note 1). deepseek-chat and
    // deepseek-reasoner are not on the page any more: unknown here, so accounted as estimates.
    "deepseek-v4-flash": { input: 0.3, cachedInput: 0.006, output: 1.2 },
  },
};

/**
 * xAI. Usage: `prompt_tokens_details.cached_tokens` (docs.x.ai/developers/advanced-api-usage/prompt-caching/
 * usage-and-pricing). Automatic, no write fee; "cache entries can be evicted at any time"; `x-grok-conv-id`
 * routes a conversation to one server (same docs, "Best Practices"). Prices: docs.x.ai model pages as
 * republished 2026 (grok-4.7 and grok-4.5 $2 / $0.50 cached / $6 below 200k tokens, twice that above;
 * grok-4 $3 / $0.75 / $15).
 */
const xai: CompatPreset = {
  baseUrl: "https://api.x.ai/v1",
  usage: { cached: ["prompt_tokens_details.cached_tokens"], cacheWrite: [] },
  cacheControl: false,
  streamUsage: "include_usage",
  minCacheableTokens: 128,
  // "Always set x-grok-conv-id ... Routes requests to the same server, maximizing cache hits" (Best Practices).
  routeHeader: "x-grok-conv-id",
  models: {
    "grok-4.7": {
      input: 2,
      cachedInput: 0.5,
      output: 6,
      longPrompt: { thresholdTokens: 200_000, multiplier: 2 },
    },
    "grok-4.5": {
      input: 2,
      cachedInput: 0.5,
      output: 6,
      longPrompt: { thresholdTokens: 200_000, multiplier: 2 },
    },
    "grok-4": { input: 3, cachedInput: 0.75, output: 15 },
  },
};

/**
 * Moonshot (Kimi). Kimi K2 and later cache automatically and report `prompt_tokens_details.cached_tokens`; the
 * older moonshot-v1 explicit caching API reports a top-level `cached_tokens` (both read, the first present
 * wins). Prices: platform.kimi.ai/docs/pricing (kimi-k3 $3 miss / $0.30 hit / $15 out, as cited 2026-07;
 * kimi-k2-thinking $0.60 / $0.15 / $2.50 as republished). Minimum length not published: 256 (prefix matching
 * measured in 256-token chunks on Kimi's coding endpoint; the less favourable reading).
 */
const moonshot: CompatPreset = {
  baseUrl: "https://api.moonshot.ai/v1",
  usage: { cached: ["prompt_tokens_details.cached_tokens", "cached_tokens"], cacheWrite: [] },
  cacheControl: false,
  streamUsage: "include_usage",
  minCacheableTokens: 256,
  models: {
    "kimi-k3": { input: 3, cachedInput: 0.3, output: 15 },
    "kimi-k2-thinking": { input: 0.6, cachedInput: 0.15, output: 2.5 },
  },
};

/**
 * OpenRouter. Usage (openrouter.ai/docs/use-cases/usage-accounting): `prompt_tokens_details.cached_tokens`
 * (read) and `cache_write_tokens` (written), always included, in a stream's last SSE message too
 * (`stream_options.include_usage` is "deprecated and has no effect"). Anthropic models cache only where the
 * request carries `cache_control` (openrouter.ai/docs/guides/best-practices/prompt-caching), at Anthropic's
 * prices (write 1.25x, read 0.1x); other models' own automatic caching passes through. Prices are the
 * upstream's: a few Anthropic models (platform.claude.com pricing, as in src/economics/models.ts) are listed;
 * others get the stand-in and are marked as estimates.
 */
const openrouter: CompatPreset = {
  baseUrl: "https://openrouter.ai/api/v1",
  usage: {
    cached: ["prompt_tokens_details.cached_tokens"],
    cacheWrite: ["prompt_tokens_details.cache_write_tokens"],
  },
  cacheControl: true,
  streamUsage: "always",
  minCacheableTokens: 1024,
  models: {
    "anthropic/claude-sonnet-4.6": { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 },
    "anthropic/claude-sonnet-4.5": { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 },
    "anthropic/claude-opus-4.6": {
      input: 5,
      cachedInput: 0.5,
      cacheWrite: 6.25,
      output: 25,
      minCacheableTokens: 4096,
    },
    "anthropic/claude-haiku-4.5": {
      input: 1,
      cachedInput: 0.1,
      cacheWrite: 1.25,
      output: 5,
      minCacheableTokens: 4096,
    },
    "deepseek/deepseek-v4-pro": { input: 1.32, cachedInput: 0.044, output: 3.96 },
  },
};

/** The presets an entry of COMPAT_UPSTREAMS can name with `"preset"`. */
export const COMPAT_PRESETS: Readonly<Record<string, CompatPreset>> = { deepseek, xai, moonshot, openrouter };

// The shape of COMPAT_UPSTREAMS once parsed (compat-config.ts) and of its presets (compat-presets.ts).

/** Prices of one model on a compat upstream, USD per million tokens. */
export interface CompatModelPrice {
  input: number;
  /** A cache read (DeepSeek "cache hit", OpenAI "cached input"). */
  cachedInput: number;
  /** A cache write, where the upstream bills one (OpenRouter's Anthropic models); default: `input`. */
  cacheWrite?: number;
  output: number;
  /** Below this many prompt tokens nothing is cached; default: the upstream's. */
  minCacheableTokens?: number;
  /** Every rate multiplied above this prompt length (xAI doubles prices above 200k tokens). */
  longPrompt?: { thresholdTokens: number; multiplier: number };
}

/** Which usage fields carry the cached and written tokens; dotted paths under `usage`, the first present wins. */
export interface CompatUsageFields {
  cached: readonly string[];
  cacheWrite: readonly string[];
}

/** What a preset fixes; an entry may override each field. */
export interface CompatPreset {
  /** Base URL up to and including the API version, e.g. https://api.x.ai/v1 (DeepSeek's has none). */
  baseUrl: string;
  usage: CompatUsageFields;
  /** The upstream honours Anthropic-style `cache_control` on content parts (OpenRouter for Anthropic models). */
  cacheControl: boolean;
  /**
   * `include_usage`: a stream carries usage only when asked with `stream_options.include_usage` (Stoker asks and
   * hides it again, as for OpenAI); `always`: every stream ends with usage (OpenRouter), nothing is added.
   */
  streamUsage: "include_usage" | "always";
  minCacheableTokens: number;
  /**
   * A request header that routes a conversation to one server of the provider (xAI `x-grok-conv-id`): when the
   * client sends none, Stoker sends `stk-<the family's tenant-salted hash>`, as it does OpenAI's
   * `prompt_cache_key`. Undefined: none.
   */
  routeHeader?: string;
  models: Readonly<Record<string, CompatModelPrice>>;
}

/** One OpenAI-compatible upstream, as `/compat/{name}/v1/chat/completions` reaches it. */
export interface CompatUpstream extends CompatPreset {
  name: string;
  /** The preset it started from, if any. */
  preset: string | undefined;
  /** The deploy's key for managed mode (sent as `Authorization: Bearer`); tenants may set their own. */
  apiKey: string | undefined;
}

import { COMPAT_PRESETS } from "./compat-presets.ts";
import type { CompatModelPrice, CompatPreset, CompatUpstream, CompatUsageFields } from "./compat-types.ts";
import { ConfigError } from "./errors.ts";

export type { CompatModelPrice, CompatPreset, CompatUpstream, CompatUsageFields };

const NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const ENTRY_FIELDS = new Set([
  "preset",
  "base_url",
  "api_key",
  "usage",
  "cache_control",
  "stream_usage",
  "min_cacheable_tokens",
  "route_header",
  "models",
]);
const MODEL_FIELDS = new Set([
  "input",
  "cached_input",
  "cache_write",
  "output",
  "min_cacheable_tokens",
  "long_prompt",
]);
const PATH = /^[a-z_]+(\.[a-z_]+)*$/;
// Never a header Stoker or the runtime owns: credentials, hop-by-hop, Stoker's own, Cloudflare's.
const HEADER = /^(?!authorization$|x-api-key$|x-stoker-|cf-|content-|host$|cookie$)[a-z0-9-]{1,64}$/;

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * COMPAT_UPSTREAMS: `{"<name>": {"preset"?: "deepseek"|"xai"|"moonshot"|"openrouter", "base_url"?, "api_key"?,
 * "usage"?: {"cached": [...], "cache_write": [...]}, "cache_control"?, "stream_usage"?, "min_cacheable_tokens"?,
 * "models"?: {"<model>": {"input", "cached_input", "cache_write"?, "output", ...}}}}` (docs/providers.md). An
 * entry without a preset must give `base_url` and `usage.cached`; `models` is merged over the preset's.
 */
export function parseCompatUpstreams(value: string | undefined): ReadonlyMap<string, CompatUpstream> {
  const out = new Map<string, CompatUpstream>();
  if (value === undefined || value.trim() === "") return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new ConfigError("COMPAT_UPSTREAMS is not valid JSON");
  }
  if (!isObj(parsed))
    throw new ConfigError("COMPAT_UPSTREAMS must be an object of upstream names to upstreams");
  for (const [name, entry] of Object.entries(parsed)) {
    if (!NAME.test(name))
      throw new ConfigError(`COMPAT_UPSTREAMS: name ${JSON.stringify(name)} must be [a-z0-9_-]{1,32}`);
    out.set(name, parseEntry(name, entry));
  }
  return out;
}

function parseEntry(name: string, v: unknown): CompatUpstream {
  const at = `COMPAT_UPSTREAMS.${name}`;
  if (!isObj(v)) throw new ConfigError(`${at} must be an object`);
  for (const k of Object.keys(v))
    if (!ENTRY_FIELDS.has(k)) throw new ConfigError(`${at}.${k}: unknown field`);
  let preset: CompatPreset | undefined;
  if (v.preset !== undefined) {
    preset = typeof v.preset === "string" ? COMPAT_PRESETS[v.preset] : undefined;
    if (!preset)
      throw new ConfigError(`${at}.preset must be one of ${Object.keys(COMPAT_PRESETS).join(", ")}`);
  }
  const baseUrl = v.base_url === undefined ? preset?.baseUrl : httpUrl(v.base_url, `${at}.base_url`);
  if (baseUrl === undefined) throw new ConfigError(`${at}.base_url is required without a preset`);
  const usage = v.usage === undefined ? preset?.usage : usageFields(v.usage, `${at}.usage`);
  if (!usage) throw new ConfigError(`${at}.usage.cached is required without a preset`);
  if (v.api_key !== undefined && (typeof v.api_key !== "string" || v.api_key.trim() === ""))
    throw new ConfigError(`${at}.api_key must be a non-empty string`);
  if (v.cache_control !== undefined && typeof v.cache_control !== "boolean")
    throw new ConfigError(`${at}.cache_control must be a boolean`);
  if (v.stream_usage !== undefined && v.stream_usage !== "include_usage" && v.stream_usage !== "always")
    throw new ConfigError(`${at}.stream_usage must be "include_usage" or "always"`);
  if (
    v.route_header !== undefined &&
    v.route_header !== false &&
    !(typeof v.route_header === "string" && HEADER.test(v.route_header))
  )
    throw new ConfigError(`${at}.route_header must be a lower-case header name, or false`);
  const routeHeader = v.route_header === undefined ? preset?.routeHeader : v.route_header || undefined;
  const models: Record<string, CompatModelPrice> = { ...preset?.models };
  if (v.models !== undefined) {
    if (!isObj(v.models)) throw new ConfigError(`${at}.models must be an object of model ids to prices`);
    for (const [model, price] of Object.entries(v.models))
      models[model.toLowerCase()] = modelPrice(price, `${at}.models.${model}`);
  }
  return {
    name,
    preset: typeof v.preset === "string" ? v.preset : undefined,
    baseUrl,
    apiKey: typeof v.api_key === "string" ? v.api_key.trim() : undefined,
    usage,
    cacheControl: (v.cache_control as boolean | undefined) ?? preset?.cacheControl ?? false,
    streamUsage:
      (v.stream_usage as CompatPreset["streamUsage"] | undefined) ?? preset?.streamUsage ?? "include_usage",
    minCacheableTokens:
      num(v.min_cacheable_tokens, `${at}.min_cacheable_tokens`, true) ?? preset?.minCacheableTokens ?? 1024,
    ...(routeHeader ? { routeHeader } : {}),
    models,
  };
}

function httpUrl(v: unknown, at: string): string {
  let url: URL | undefined;
  try {
    url = typeof v === "string" ? new URL(v) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.search || url.hash)
    throw new ConfigError(`${at} must be an http(s) URL without query or fragment`);
  return (v as string).replace(/\/+$/, "");
}

function paths(v: unknown, at: string): string[] {
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list) || !list.every((p) => typeof p === "string" && PATH.test(p)))
    throw new ConfigError(`${at} must be a dotted field path under usage, or a list of them`);
  return list as string[];
}

function usageFields(v: unknown, at: string): CompatUsageFields {
  if (!isObj(v)) throw new ConfigError(`${at} must be an object`);
  for (const k of Object.keys(v))
    if (k !== "cached" && k !== "cache_write") throw new ConfigError(`${at}.${k}: unknown field`);
  const cached = paths(v.cached, `${at}.cached`);
  if (cached.length === 0) throw new ConfigError(`${at}.cached must name at least one field`);
  return { cached, cacheWrite: v.cache_write === undefined ? [] : paths(v.cache_write, `${at}.cache_write`) };
}

function modelPrice(v: unknown, at: string): CompatModelPrice {
  if (!isObj(v)) throw new ConfigError(`${at} must be an object`);
  for (const k of Object.keys(v))
    if (!MODEL_FIELDS.has(k)) throw new ConfigError(`${at}.${k}: unknown field`);
  const input = num(v.input, `${at}.input`);
  const cachedInput = num(v.cached_input, `${at}.cached_input`);
  const output = num(v.output, `${at}.output`);
  if (input === undefined || cachedInput === undefined || output === undefined)
    throw new ConfigError(`${at} needs input, cached_input and output (USD per million tokens)`);
  if (input === 0) throw new ConfigError(`${at}.input must be above 0`);
  const price: CompatModelPrice = { input, cachedInput, output };
  const write = num(v.cache_write, `${at}.cache_write`);
  if (write !== undefined) price.cacheWrite = write;
  const min = num(v.min_cacheable_tokens, `${at}.min_cacheable_tokens`, true);
  if (min !== undefined) price.minCacheableTokens = min;
  if (v.long_prompt !== undefined) {
    const lp = v.long_prompt;
    const threshold = isObj(lp)
      ? num(lp.threshold_tokens, `${at}.long_prompt.threshold_tokens`, true)
      : undefined;
    const multiplier = isObj(lp) ? num(lp.multiplier, `${at}.long_prompt.multiplier`) : undefined;
    if (threshold === undefined || multiplier === undefined)
      throw new ConfigError(`${at}.long_prompt needs threshold_tokens and multiplier`);
    price.longPrompt = { thresholdTokens: threshold, multiplier };
  }
  return price;
}

function num(v: unknown, at: string, integer = false): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || (integer && !Number.isSafeInteger(v)))
    throw new ConfigError(`${at} must be a non-negative ${integer ? "integer" : "number"}`);
  return v;
}

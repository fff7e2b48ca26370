import { ConfigError } from "./errors.ts";

/** One OpenAI-compatible server (vLLM, SGLang, ...) of a pool. */
export interface GpuBackendConfig {
  /** Server root without `/v1` and without a trailing slash, e.g. http://10.0.0.5:8000 */
  url: string;
  /** Sent as `Authorization: Bearer <key>` for managed tenants; none when absent. */
  key: string | undefined;
  /** Share of the pool's load this backend takes (relative to the others). */
  weight: number;
  /** The backend accepts vLLM's `cache_salt` field; when false Stoker never sends it (no KV isolation there). */
  cacheSalt: boolean;
  /** KV cache capacity in tokens, when known: sizes the routing index and enables GPU keepalive touches. */
  kvCacheTokens: number | undefined;
}

/** A named pool of backends serving the same model(s), as `POST /gpu/:pool/v1/...` reaches it. */
export interface GpuPoolConfig {
  name: string;
  backends: GpuBackendConfig[];
  /** Bounded load: no backend gets a request that would put it above (1 + epsilon) x the mean in-flight. */
  epsilon: number;
  /** Prefill throughput of one backend (uncached prompt tokens per second): the GPU-time model. */
  prefillTokensPerS: number;
  /** Decode throughput of one backend, all sequences together (tokens per second): the GPU-time model. */
  decodeTokensPerS: number;
  /** What one backend costs per hour; 0 (default) accounts GPU requests at no cost. */
  usdPerGpuHour: number;
  /** Time allowed until a backend's response headers; defaults to UPSTREAM_TIMEOUT_MS. */
  timeoutMs: number | undefined;
  /** Entries of the routing index older than this are ignored (traffic Stoker does not see, restarts). */
  indexTtlMs: number;
  /** GPU keepalive touches for this pool (needs `kv_cache_tokens` on its backends). */
  keepalive: boolean;
}

export const GPU_DEFAULTS = {
  /**
   * docs/gpu.md: a backstop under the queue estimate. Fitted with `AFFINITY` by `npm run bench:gpu:fit`
   * (bench/gpu/fit.ts): lowest mean TTFT on the first half of the Mooncake trace.
   */
  epsilon: 1,
  prefillTokensPerS: 10_000,
  decodeTokensPerS: 2_000,
  indexTtlMs: 20 * 60_000,
} as const;

const POOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_BACKENDS = 64;
const POOL_FIELDS = new Set([
  "backends",
  "epsilon",
  "prefill_tokens_per_s",
  "decode_tokens_per_s",
  "usd_per_gpu_hour",
  "timeout_ms",
  "index_ttl_s",
  "keepalive",
]);
const BACKEND_FIELDS = new Set(["url", "key", "weight", "cache_salt", "kv_cache_tokens"]);

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * GPU_POOLS: `{"<pool>": {"backends": [{"url": "http://10.0.0.5:8000", "key"?, "weight"?, "cache_salt"?,
 * "kv_cache_tokens"?}], "epsilon"?, ...}}` (docs/gpu.md). Parsed once with the rest of the config.
 */
export function parseGpuPools(value: string | undefined): ReadonlyMap<string, GpuPoolConfig> {
  const pools = new Map<string, GpuPoolConfig>();
  if (value === undefined || value.trim() === "") return pools;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new ConfigError("GPU_POOLS is not valid JSON");
  }
  if (!isObj(parsed)) throw new ConfigError("GPU_POOLS must be an object of pool names to pools");
  for (const [name, pool] of Object.entries(parsed)) {
    if (!POOL_NAME.test(name))
      throw new ConfigError(`GPU_POOLS: pool name ${name} must be [A-Za-z0-9_-]{1,64}`);
    pools.set(name, parsePool(name, pool));
  }
  return pools;
}

function parsePool(name: string, v: unknown): GpuPoolConfig {
  const at = `GPU_POOLS.${name}`;
  if (!isObj(v)) throw new ConfigError(`${at} must be an object`);
  for (const k of Object.keys(v)) if (!POOL_FIELDS.has(k)) throw new ConfigError(`${at}.${k}: unknown field`);
  if (!Array.isArray(v.backends) || v.backends.length === 0 || v.backends.length > MAX_BACKENDS) {
    throw new ConfigError(`${at}.backends must be an array of 1-${MAX_BACKENDS} backends`);
  }
  const backends = v.backends.map((b, i) => parseBackend(`${at}.backends[${i}]`, b));
  const keepalive = v.keepalive === undefined ? false : v.keepalive;
  if (typeof keepalive !== "boolean") throw new ConfigError(`${at}.keepalive must be a boolean`);
  const ttlS = num(v.index_ttl_s, `${at}.index_ttl_s`, { min: 1 });
  return {
    name,
    backends,
    epsilon: num(v.epsilon, `${at}.epsilon`, { min: 0, max: 10 }) ?? GPU_DEFAULTS.epsilon,
    prefillTokensPerS:
      num(v.prefill_tokens_per_s, `${at}.prefill_tokens_per_s`, { min: 1 }) ?? GPU_DEFAULTS.prefillTokensPerS,
    decodeTokensPerS:
      num(v.decode_tokens_per_s, `${at}.decode_tokens_per_s`, { min: 1 }) ?? GPU_DEFAULTS.decodeTokensPerS,
    usdPerGpuHour: num(v.usd_per_gpu_hour, `${at}.usd_per_gpu_hour`, { min: 0 }) ?? 0,
    timeoutMs: num(v.timeout_ms, `${at}.timeout_ms`, { min: 1, integer: true }),
    indexTtlMs: ttlS === undefined ? GPU_DEFAULTS.indexTtlMs : ttlS * 1000,
    keepalive,
  };
}

function parseBackend(at: string, v: unknown): GpuBackendConfig {
  if (!isObj(v)) throw new ConfigError(`${at} must be an object`);
  for (const k of Object.keys(v))
    if (!BACKEND_FIELDS.has(k)) throw new ConfigError(`${at}.${k}: unknown field`);
  if (typeof v.url !== "string") throw new ConfigError(`${at}.url must be an http(s) URL`);
  let url: URL;
  try {
    url = new URL(v.url);
  } catch {
    throw new ConfigError(`${at}.url must be an http(s) URL`);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.search || url.hash) {
    throw new ConfigError(`${at}.url must be an http(s) URL without query or fragment`);
  }
  if (v.key !== undefined && (typeof v.key !== "string" || v.key.trim() === "")) {
    throw new ConfigError(`${at}.key must be a non-empty string`);
  }
  const cacheSalt = v.cache_salt === undefined ? true : v.cache_salt;
  if (typeof cacheSalt !== "boolean") throw new ConfigError(`${at}.cache_salt must be a boolean`);
  return {
    // vLLM's docs give base URLs ending in /v1 (for SDKs); Stoker appends /v1/... itself.
    url: v.url.replace(/\/+$/, "").replace(/\/v1$/, ""),
    key: typeof v.key === "string" ? v.key.trim() : undefined,
    weight: num(v.weight, `${at}.weight`, { min: 0.01, max: 1000 }) ?? 1,
    cacheSalt,
    kvCacheTokens: num(v.kv_cache_tokens, `${at}.kv_cache_tokens`, { min: 256, integer: true }),
  };
}

function num(
  v: unknown,
  at: string,
  opts: { min: number; max?: number; integer?: boolean },
): number | undefined {
  if (v === undefined) return undefined;
  const ok =
    typeof v === "number" &&
    Number.isFinite(v) &&
    v >= opts.min &&
    (opts.max === undefined || v <= opts.max) &&
    (!opts.integer || Number.isSafeInteger(v));
  if (!ok) {
    const range = opts.max === undefined ? `>= ${opts.min}` : `in [${opts.min}, ${opts.max}]`;
    throw new ConfigError(`${at} must be a${opts.integer ? "n integer" : " number"} ${range}`);
  }
  return v;
}

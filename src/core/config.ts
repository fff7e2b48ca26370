import { createHash } from "node:crypto";
import type { CanonicalizeRules } from "../canonicalize/rules.ts";
import { DEFAULT_MODELS, type ModelInfo, type ModelTable, mergeModelTable } from "../economics/models.ts";
import { CACHE_SETTING_NAMES, type CacheSettings, DEFAULT_CACHE_SETTINGS } from "../plan/settings.ts";
import { type CompatUpstream, parseCompatUpstreams } from "./compat-config.ts";
import { ConfigError } from "./errors.ts";
import { type GpuPoolConfig, parseGpuPools } from "./gpu-config.ts";
import type { Provider } from "./provider.ts";

/** A tenant known from config: its id and the SHA-256 of its Stoker key. */
export interface TenantRecord {
  id: string;
  keySha256: Uint8Array;
  /** The tenant's canonicalization rules over the defaults (a request's header goes over these). */
  canonicalize: Partial<CanonicalizeRules>;
  /** The tenant's cache settings (`cache` in TENANTS), over the defaults. */
  cache: CacheSettings;
}

export interface UpstreamConfig {
  /** Base URL without a trailing slash, e.g. https://api.anthropic.com */
  baseUrl: string;
  /** Provider key for managed mode, if configured. */
  apiKey: string | undefined;
}

/** AWS credentials for SigV4 (Bedrock). */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

/** Bedrock beyond its base URL and API key (`upstreams.bedrock.apiKey`, a Bedrock API key sent as Bearer). */
export interface BedrockConfig {
  /** The region requests are signed for (SigV4 credential scope). */
  region: string;
  /** The deploy's AWS credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), if any. */
  aws: AwsCredentials | undefined;
}

export type LogLevel = "debug" | "info" | "warn" | "error";

/** Everything Stoker reads from its environment, parsed and validated once. */
export interface Config {
  upstreams: Record<Provider, UpstreamConfig>;
  bedrock: BedrockConfig;
  simulator: boolean;
  /** DEV_CLOCK=1: the shared clock can be moved (`POST /__dev/clock`); only with the simulator. */
  devClock: boolean;
  tenants: readonly TenantRecord[];
  maxBodyBytes: number;
  /** Bodies above this many bytes are forwarded unchanged, without analysis (src/edge/budget.ts). */
  analysisMaxBytes: number;
  upstreamTimeoutMs: number;
  logLevel: LogLevel;
  /** Keys per-tenant salts and the encryption of stored keepalive requests. */
  secret: string;
  /** STOKER_SECRET was not set and the built-in dev value is in use (local development only). */
  secretIsDevDefault: boolean;
  /** Local development (`npm start`, tests): STOKER_SIMULATOR or STOKER_LOCAL_DEV is set. */
  localDev: boolean;
  /** `npm start` (STOKER_LOCAL_DEV): answer only requests addressed to a loopback host (DNS rebinding). */
  loopbackOnly: boolean;
  /** How long a request waits for the tracker's lookup before planning without it. */
  trackerDeadlineMs: number;
  /**
   * SHARED_ANSWERS_WAIT_MS: how long a request of a conversation its isolate never heard of waits for the
   * tracker's answer another isolate shared through the location's cache (src/tracker/shared-answers.ts);
   * 0 turns sharing off (nothing is written or read).
   */
  sharedAnswersWaitMs: number;
  /**
   * SHARED_ANSWERS_HOLD_MS: how long an isolate holds the answer to a fast loop's turn before sharing it; a
   * later turn of the conversation through the isolate within it supersedes it, so it is never written
   * (src/tracker/share-hold.ts; 0: shared as it is heard). At most HOLD_MAX_MS.
   */
  sharedAnswersHoldMs: number;
  /**
   * RECORD_BATCH_WAIT_MS: how long a record waits in its isolate for the next requests' records to go with
   * it in one `recordMany` RPC (src/tracker/client.ts `recordSafely`); a full batch, or one carrying 200 KB
   * of keepalive captures, goes at once. At most RECORD_BATCH_WAIT_MAX_MS.
   */
  recordBatchWaitMs: number;
  /**
   * TRACKER_DELAY_MS ("50-100" or "75"): the tracker answers each lookup and record batch a uniformly drawn
   * number of ms in that range late, as a tracker in another region would. Benchmarks only: with the simulator.
   */
  trackerDelayMs: { min: number; max: number } | null;
  /** Prices, minimum lengths and TTL options per model: the defaults with MODEL_PRICES merged over them. */
  models: ModelTable;
  /** GPU pools by name (GPU_POOLS, docs/gpu.md); empty when none is configured. */
  gpuPools: ReadonlyMap<string, GpuPoolConfig>;
  /** OpenAI-compatible upstreams by name (COMPAT_UPSTREAMS, docs/providers.md); empty when none is configured. */
  compat: ReadonlyMap<string, CompatUpstream>;
  /**
   * Anthropic cache diagnostics asked for on clients' behalf (README "What Stoker adds to requests");
   * ANTHROPIC_CACHE_DIAGNOSTICS=0 turns it off, e.g. for an upstream that does not accept `diagnostics`.
   */
  cacheDiagnostics: boolean;
  /** SHA-256 of ADMIN_TOKEN; null turns the admin API off. */
  adminTokenSha256: Uint8Array | null;
  keepalive: {
    /** Global switch: false stops every ping (the kill switch) and stops storing bodies. */
    enabled: boolean;
    /** The provider's short cache TTL (Anthropic 5m), shorter for self-hosted backends and tests. */
    anthropicTtlMs: number;
    /**
     * KEEPALIVE_CAPTURE_HOLD_MS: how long the edge holds a request's keepalive capture before sending it to
     * the tracker; a later turn of the conversation within it supersedes it, so it never travels (0: sent
     * with the record). At most HOLD_MAX_MS, within the runtime's 30 s of `waitUntil`.
     */
    captureHoldMs: number;
  };
}

export const DEFAULTS = {
  anthropicUrl: "https://api.anthropic.com",
  openaiUrl: "https://api.openai.com",
  geminiUrl: "https://generativelanguage.googleapis.com",
  awsRegion: "us-east-1",
  // Anthropic's Messages API accepts requests up to 32 MB.
  maxBodyBytes: 32 * 1024 * 1024,
  // Analysis holds about 10x the body: 8 MiB keeps one request's peak well inside an isolate's 128 MB.
  analysisMaxBytes: 8 * 1024 * 1024,
  // Time allowed until the upstream's response headers arrive; streams are never cut after that.
  upstreamTimeoutMs: 600_000,
  trackerDeadlineMs: 10,
  // A cache read in the isolate's own location; beyond this the request is planned without it.
  sharedAnswersWaitMs: 2,
  // The capture hold's (below): the same fast loops, whose next turn makes the last one's answer moot.
  sharedAnswersHoldMs: 10_000,
  recordBatchWaitMs: 100,
  // `node bench/economics/fit-hold.ts`: on the synthetic agent workloads' training seeds, 10 s
  // leaves 83 % (agent loop) and 39 % (agent with tools) of captures untravelled, 5 s 22 % and 20 %, 20 s
  // 83 % and 49 % with bodies held twice as long.
  captureHoldMs: 10_000,
  // Only for local dev and tests; a deploy sets the STOKER_SECRET secret (see README).
  devSecret: "stoker-local-dev-secret",
} as const;

const cache = new WeakMap<object, Config>();

/** Parses env into a Config, once per env object. */
export function getConfig(env: Env): Config {
  let config = cache.get(env);
  if (!config) {
    config = parseConfig(env);
    cache.set(env, config);
  }
  return config;
}

export function parseConfig(env: Env): Config {
  const simulator = flag(env.STOKER_SIMULATOR);
  const localDev = simulator || flag(env.STOKER_LOCAL_DEV);
  // The dev value is in the source: a deploy without its own secret would seal and salt with a public key.
  if (nonEmpty(env.STOKER_SECRET) === undefined && !localDev)
    throw new ConfigError(
      "STOKER_SECRET is not set: refusing to serve. Set it with `wrangler secret put STOKER_SECRET` (local development: npm start).",
    );
  return {
    upstreams: {
      anthropic: {
        baseUrl: url(env.ANTHROPIC_UPSTREAM_URL, DEFAULTS.anthropicUrl),
        apiKey: nonEmpty(env.ANTHROPIC_API_KEY),
      },
      openai: {
        baseUrl: url(env.OPENAI_UPSTREAM_URL, DEFAULTS.openaiUrl),
        apiKey: nonEmpty(env.OPENAI_API_KEY),
      },
      gemini: {
        baseUrl: url(env.GEMINI_UPSTREAM_URL, DEFAULTS.geminiUrl),
        apiKey: nonEmpty(env.GEMINI_API_KEY),
      },
      bedrock: {
        baseUrl: url(
          env.BEDROCK_UPSTREAM_URL,
          `https://bedrock-runtime.${awsRegion(env.AWS_REGION)}.amazonaws.com`,
        ),
        apiKey: nonEmpty(env.BEDROCK_API_KEY),
      },
    },
    bedrock: { region: awsRegion(env.AWS_REGION), aws: awsCredentials(env) },
    simulator,
    devClock: devClock(env, simulator),
    trackerDelayMs: trackerDelay(env.TRACKER_DELAY_MS, simulator),
    localDev,
    loopbackOnly: flag(env.STOKER_LOCAL_DEV),
    tenants: parseTenants(env.TENANTS),
    maxBodyBytes: positiveInt("MAX_BODY_BYTES", env.MAX_BODY_BYTES, DEFAULTS.maxBodyBytes),
    analysisMaxBytes: positiveInt("ANALYSIS_MAX_BYTES", env.ANALYSIS_MAX_BYTES, DEFAULTS.analysisMaxBytes),
    upstreamTimeoutMs: positiveInt(
      "UPSTREAM_TIMEOUT_MS",
      env.UPSTREAM_TIMEOUT_MS,
      DEFAULTS.upstreamTimeoutMs,
    ),
    logLevel: logLevel(env.LOG_LEVEL),
    secret: nonEmpty(env.STOKER_SECRET) ?? DEFAULTS.devSecret,
    secretIsDevDefault: nonEmpty(env.STOKER_SECRET) === undefined,
    trackerDeadlineMs: positiveInt(
      "TRACKER_DEADLINE_MS",
      env.TRACKER_DEADLINE_MS,
      DEFAULTS.trackerDeadlineMs,
    ),
    sharedAnswersWaitMs: nonNegativeInt(
      "SHARED_ANSWERS_WAIT_MS",
      env.SHARED_ANSWERS_WAIT_MS,
      DEFAULTS.sharedAnswersWaitMs,
    ),
    sharedAnswersHoldMs: wallClockMs(
      "SHARED_ANSWERS_HOLD_MS",
      env.SHARED_ANSWERS_HOLD_MS,
      DEFAULTS.sharedAnswersHoldMs,
      devClock(env, simulator),
      HOLD_MAX_MS,
    ),
    recordBatchWaitMs: wallClockMs(
      "RECORD_BATCH_WAIT_MS",
      env.RECORD_BATCH_WAIT_MS,
      DEFAULTS.recordBatchWaitMs,
      devClock(env, simulator),
      RECORD_BATCH_WAIT_MAX_MS,
    ),
    models: parseModels(env.MODEL_PRICES),
    gpuPools: parseGpuPools(env.GPU_POOLS),
    compat: parseCompatUpstreams(env.COMPAT_UPSTREAMS),
    adminTokenSha256: adminToken(env.ADMIN_TOKEN),
    cacheDiagnostics: !(
      env.ANTHROPIC_CACHE_DIAGNOSTICS === "0" || env.ANTHROPIC_CACHE_DIAGNOSTICS === "false"
    ),
    keepalive: {
      enabled: !(env.KEEPALIVE_KILL_SWITCH === "1" || env.KEEPALIVE_KILL_SWITCH === "true"),
      anthropicTtlMs: positiveInt("ANTHROPIC_CACHE_TTL_SECONDS", env.ANTHROPIC_CACHE_TTL_SECONDS, 300) * 1000,
      captureHoldMs: wallClockMs(
        "KEEPALIVE_CAPTURE_HOLD_MS",
        env.KEEPALIVE_CAPTURE_HOLD_MS,
        DEFAULTS.captureHoldMs,
        devClock(env, simulator),
        HOLD_MAX_MS,
      ),
    },
  };
}

function awsRegion(raw: string | undefined): string {
  const region = nonEmpty(raw) ?? DEFAULTS.awsRegion;
  if (!/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/.test(region))
    throw new ConfigError(`AWS_REGION must be a region name like us-east-1, got "${region.slice(0, 40)}".`);
  return region;
}

function awsCredentials(env: Env): AwsCredentials | undefined {
  const accessKeyId = nonEmpty(env.AWS_ACCESS_KEY_ID);
  const secretAccessKey = nonEmpty(env.AWS_SECRET_ACCESS_KEY);
  if (!accessKeyId && !secretAccessKey) return undefined;
  if (!accessKeyId || !secretAccessKey)
    throw new ConfigError("Set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither.");
  return { accessKeyId, secretAccessKey, sessionToken: nonEmpty(env.AWS_SESSION_TOKEN) };
}

function trackerDelay(raw: string | undefined, simulator: boolean): Config["trackerDelayMs"] {
  if (nonEmpty(raw) === undefined) return null;
  const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5}))?\s*$/.exec(raw as string);
  const min = Number(m?.[1]);
  const max = m?.[2] === undefined ? min : Number(m[2]);
  if (!m || max < min) throw new ConfigError('TRACKER_DELAY_MS must be "<ms>" or "<min>-<max>"');
  if (!simulator) throw new ConfigError("TRACKER_DELAY_MS is only for benchmarks with the simulator");
  return { min, max };
}

function devClock(env: Env, simulator: boolean): boolean {
  const on = flag(env.DEV_CLOCK);
  // A movable clock would let a caller shift every TTL and deadline: never outside local development.
  if (on && !simulator) throw new ConfigError("DEV_CLOCK is only for local development with the simulator");
  return on;
}

function flag(value: string | undefined): boolean {
  return value === "1" || value === "true";
}

function adminToken(value: string | undefined): Uint8Array | null {
  const token = nonEmpty(value);
  if (token === undefined) return null;
  // Short tokens can be guessed; the admin API can read and delete every tenant.
  if (token.length < 16) throw new ConfigError("ADMIN_TOKEN must be at least 16 characters");
  return new Uint8Array(createHash("sha256").update(token).digest());
}

function nonEmpty(value: string | undefined): string | undefined {
  return value && value.trim() !== "" ? value.trim() : undefined;
}

function url(value: string | undefined, fallback: string): string {
  const raw = nonEmpty(value) ?? fallback;
  try {
    const parsed = new URL(raw);
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw new Error();
  } catch {
    throw new ConfigError(`upstream URL is not an http(s) URL: ${raw}`);
  }
  return raw.replace(/\/+$/, "");
}

/** Past it the runtime may end the `waitUntil` that holds a capture or an answer (30 s after the response). */
export const HOLD_MAX_MS = 20_000;

/** A record waits at most this long for others: the tracker hears of a request within it. */
export const RECORD_BATCH_WAIT_MAX_MS = 1_000;

/**
 * A wall-clock wait of the edge's (a hold, a record's wait for others), within `max`. On the dev clock time moves
 * in steps a wall-clock wait cannot follow, and tests read the tracker right after a request: none unless set.
 */
function wallClockMs(
  name: string,
  raw: string | undefined,
  fallback: number,
  devClock: boolean,
  max: number,
): number {
  const ms = nonNegativeInt(name, raw, devClock ? 0 : fallback);
  if (ms > max) throw new ConfigError(`${name} must be at most ${max}`);
  return ms;
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  return wholeNumber(name, value, fallback, 1);
}

function nonNegativeInt(name: string, value: string | undefined, fallback: number): number {
  return wholeNumber(name, value, fallback, 0);
}

function wholeNumber(name: string, value: string | undefined, fallback: number, min: 0 | 1): number {
  if (nonEmpty(value) === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min)
    throw new ConfigError(
      `${name} must be ${min === 1 ? "a positive integer" : "a whole number of 0 or more"}`,
    );
  return n;
}

function logLevel(value: string | undefined): LogLevel {
  const v = nonEmpty(value) ?? "info";
  if (v === "debug" || v === "info" || v === "warn" || v === "error") return v;
  throw new ConfigError("LOG_LEVEL must be debug, info, warn or error");
}

function parseTenants(value: string | undefined): TenantRecord[] {
  if (nonEmpty(value) === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value as string);
  } catch {
    throw new ConfigError("TENANTS is not valid JSON");
  }
  if (!Array.isArray(parsed)) throw new ConfigError("TENANTS must be a JSON array");
  return parsed.map((t, i) => {
    const id = (t as { id?: unknown })?.id;
    const hash = (t as { key_sha256?: unknown })?.key_sha256;
    if (typeof id !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
      throw new ConfigError(`TENANTS[${i}].id must be 1-64 characters of [A-Za-z0-9_-]`);
    }
    if (typeof hash !== "string" || !/^[0-9a-f]{64}$/i.test(hash)) {
      throw new ConfigError(`TENANTS[${i}].key_sha256 must be 64 hex characters`);
    }
    return {
      id,
      keySha256: hexToBytes(hash),
      canonicalize: parseRules((t as { canonicalize?: unknown }).canonicalize, i),
      cache: parseCacheSettings((t as { cache?: unknown }).cache, i),
    };
  });
}

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const RULE_NAMES = ["schemaKeys", "argumentKeys", "toolOrder", "lineEndings", "volatileToTail"] as const;

function parseRules(value: unknown, i: number): Partial<CanonicalizeRules> {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError(`TENANTS[${i}].canonicalize must be an object of rule names to booleans`);
  }
  const out: Partial<CanonicalizeRules> = {};
  for (const [name, on] of Object.entries(value)) {
    if (!(RULE_NAMES as readonly string[]).includes(name) || typeof on !== "boolean") {
      throw new ConfigError(
        `TENANTS[${i}].canonicalize.${name}: expected one of ${RULE_NAMES.join(", ")} with a boolean`,
      );
    }
    out[name as (typeof RULE_NAMES)[number]] = on;
  }
  return out;
}

function parseCacheSettings(value: unknown, i: number): CacheSettings {
  const out = { ...DEFAULT_CACHE_SETTINGS };
  if (value === undefined) return out;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError(`TENANTS[${i}].cache must be an object of setting names to booleans`);
  }
  for (const [name, on] of Object.entries(value)) {
    if (!(CACHE_SETTING_NAMES as readonly string[]).includes(name) || typeof on !== "boolean") {
      throw new ConfigError(
        `TENANTS[${i}].cache.${name}: expected one of ${CACHE_SETTING_NAMES.join(", ")} with a boolean`,
      );
    }
    out[name as (typeof CACHE_SETTING_NAMES)[number]] = on;
  }
  return out;
}

const NUMERIC_FIELDS = [
  "inputPerMTok",
  "outputPerMTok",
  "cacheWrite5m",
  "cacheWrite1h",
  "cacheRead",
  "minCacheableTokens",
] as const;

/** MODEL_PRICES: `{"model-id": {"inputPerMTok": 3, "cacheRead": 0.1, ...}}`, merged over the built-in table. */
function parseModels(value: string | undefined): ModelTable {
  if (nonEmpty(value) === undefined) return DEFAULT_MODELS;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value as string);
  } catch {
    throw new ConfigError("MODEL_PRICES is not valid JSON");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigError("MODEL_PRICES must be an object of model ids to price fields");
  }
  const override: Record<string, Partial<ModelInfo>> = {};
  for (const [model, fields] of Object.entries(parsed)) {
    if (fields === null || typeof fields !== "object")
      throw new ConfigError(`MODEL_PRICES.${model} must be an object`);
    const patch: Partial<ModelInfo> = {};
    for (const [k, v] of Object.entries(fields)) {
      if (k === "provider" && (v === "anthropic" || v === "openai")) patch.provider = v;
      else if (
        (NUMERIC_FIELDS as readonly string[]).includes(k) &&
        typeof v === "number" &&
        Number.isFinite(v) &&
        v >= 0
      ) {
        patch[k as (typeof NUMERIC_FIELDS)[number]] = v;
      } else throw new ConfigError(`MODEL_PRICES.${model}.${k}: unknown field or bad value`);
    }
    override[model] = patch;
  }
  try {
    return mergeModelTable(DEFAULT_MODELS, override);
  } catch (err) {
    throw new ConfigError(`MODEL_PRICES: ${err instanceof Error ? err.message : "invalid"}`);
  }
}

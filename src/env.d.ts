// Secrets and optional vars that `wrangler types` cannot see in wrangler.toml.
interface Env {
  /** Provider keys for managed mode in a single-tenant deploy (`wrangler secret put`). */
  ANTHROPIC_API_KEY?: string;
  OPENAI_API_KEY?: string;
  GEMINI_API_KEY?: string;
  /** A Bedrock API key (sent as Bearer) for managed mode. */
  BEDROCK_API_KEY?: string;
  /** AWS credentials that sign Bedrock requests (SigV4) in managed mode; secrets. */
  AWS_ACCESS_KEY_ID?: string;
  AWS_SECRET_ACCESS_KEY?: string;
  AWS_SESSION_TOKEN?: string;
  /** The Bedrock region (default us-east-1): the default base URL and the SigV4 scope. */
  AWS_REGION?: string;
  /** bedrock-runtime's base URL (default https://bedrock-runtime.{AWS_REGION}.amazonaws.com). */
  BEDROCK_UPSTREAM_URL?: string;
  /** The Gemini API's base URL (default https://generativelanguage.googleapis.com). */
  GEMINI_UPSTREAM_URL?: string;
  /** JSON array of tenants: [{"id":"acme","key_sha256":"<hex>"}]; a secret in production. */
  TENANTS?: string;
  /** "1" when the upstream URLs point at Stoker's provider simulator (set by `npm start`). */
  STOKER_SIMULATOR?: string;
  /** "1" in local development (set by `npm start`): allows the built-in dev STOKER_SECRET. Never in a deploy. */
  STOKER_LOCAL_DEV?: string;
  MAX_BODY_BYTES?: string;
  /** Bodies above this many bytes are forwarded without analysis (default 8 MiB). */
  ANALYSIS_MAX_BYTES?: string;
  UPSTREAM_TIMEOUT_MS?: string;
  LOG_LEVEL?: string;
  /** Keys per-tenant salts; a secret in production. */
  STOKER_SECRET?: string;
  TRACKER_DEADLINE_MS?: string;
  SHARED_ANSWERS_WAIT_MS?: string;
  SHARED_ANSWERS_HOLD_MS?: string;
  /** How long a record waits for the next requests' to go in one RPC with it (ms; "0": none). */
  RECORD_BATCH_WAIT_MS?: string;
  /** "1" stops all keepalive pings at once. */
  KEEPALIVE_KILL_SWITCH?: string;
  ANTHROPIC_CACHE_TTL_SECONDS?: string;
  /** How long the edge holds a keepalive capture back for a later turn to supersede (ms; "0": never). */
  KEEPALIVE_CAPTURE_HOLD_MS?: string;
  /** "0" stops Stoker from asking Anthropic's cache diagnostics on clients' behalf. */
  ANTHROPIC_CACHE_DIAGNOSTICS?: string;
  /** JSON price overrides merged over the built-in model table. */
  MODEL_PRICES?: string;
  /** Bearer token of the admin API (`/v1/admin/*`); the admin API is off when unset. A secret. */
  ADMIN_TOKEN?: string;
  /** "1": the shared clock can be moved with POST /__dev/clock (local development with the simulator only). */
  DEV_CLOCK?: string;
  /** JSON array of GPU pools (see docs/gpu.md). */
  GPU_POOLS?: string;
  /** JSON object of OpenAI-compatible upstreams (DeepSeek, xAI, Moonshot, OpenRouter, ...; docs/providers.md). */
  COMPAT_UPSTREAMS?: string;
  /** "50-100": the tracker answers lookups and records that many ms late (benchmarks; simulator only). */
  TRACKER_DELAY_MS?: string;
}

// Served as text (see the [[rules]] in wrangler.toml).
declare module "uplot/dist/uPlot.iife.min.js" {
  const text: string;
  export default text;
}
declare module "uplot/dist/uPlot.min.css" {
  const text: string;
  export default text;
}

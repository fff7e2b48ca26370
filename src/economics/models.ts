/**
 * The one model table: prices, cache multipliers, minimum cacheable lengths and cache options per model.
 * Plan, Keepalive, Analytics, the request accounting and the benchmarks all read it; deployments override it
 * with `mergeModelTable`.
 *
 * Checked 2026-11-27 with the search tool against: platform.claude.com "Pricing" and the per-model overview
 * pages (Opus 5.5, Sonnet 5.5, Haiku 5.5, Opus 5), the Anthropic prompt-caching guide (minimum lengths: see
 * the note above the table), developers.openai.com "Prompt caching" and the `openai` SDK 6.49 types (prompt_cache_options, prompt_cache_breakpoint, prompt_cache_retention), and
 * OpenAI list prices as republished on 2026-11-05. Rows marked `assumed` fill a gap the sources leave open.
 */

import type { Provider } from "../core/provider.ts";

export type { Provider };

/** How a model's prompt cache is addressed: Anthropic `cache_control`, or OpenAI's automatic cache. */
export type CacheStyle = "anthropic" | "openai-implicit" | "openai-breakpoints" | "gemini";

export interface ModelInfo {
  provider: Provider;
  /** USD per million tokens. */
  inputPerMTok: number;
  outputPerMTok: number;
  /** Multipliers of the base input price. */
  cacheWrite5m: number;
  cacheWrite1h: number;
  cacheRead: number;
  /** Below this many prompt tokens at a breakpoint nothing is cached (and no error is raised). */
  minCacheableTokens: number;
  cacheStyle: CacheStyle;
  /** OpenAI: accepts `prompt_cache_retention: "24h"`. */
  retention24h: boolean;
  /** Token estimate family (see prefix/tokens.ts). */
  tokenizer: TokenizerFamily;
  /**
   * Prompt length above which every rate is multiplied (Haiku 5.5 bills long prompts at 5x); `outputMultiplier`
   * where output takes another factor (Gemini Pro: input and cache 2x, output 1.5x above 200k).
   */
  longPrompt?: { thresholdTokens: number; multiplier: number; outputMultiplier?: number };
  /** Gemini explicit caches: USD per million tokens per hour of storage. */
  storagePerMTokHour?: number;
  /** False for the defaults that stand in for a model the table does not know. */
  known: boolean;
  /** Where a figure is not from a provider page but inferred from its siblings. */
  assumed?: string;
}

export type TokenizerFamily = "o200k" | "cl100k" | "claude" | "claude-2026";

export type ModelTable = Readonly<Record<string, ModelInfo>>;

const ANTHROPIC = {
  provider: "anthropic",
  cacheWrite5m: 1.25,
  cacheWrite1h: 2,
  cacheRead: 0.1,
  cacheStyle: "anthropic",
  retention24h: false,
  known: true,
} as const;

const OPENAI = {
  provider: "openai",
  cacheWrite5m: 1,
  cacheWrite1h: 1,
  cacheRead: 0.1,
  minCacheableTokens: 1024,
  cacheStyle: "openai-implicit",
  retention24h: false,
  tokenizer: "o200k",
  known: true,
} as const;

// GPT-5.6 and later: cache writes cost 1.25x, explicit breakpoints and prompt_cache_options exist. Source:
// developers.openai.com/api/docs/guides/prompt-caching: "Cache writes have no additional fee on models before
// the GPT-5.6 family. For GPT-5.6 models and later model families, cache writes cost 1.25x the uncached input
// token rate." Their single 30m TTL is carried in the 5m column (cost.ts counts cache_write_tokens there).
const OPENAI_BREAKPOINTS = {
  ...OPENAI,
  cacheWrite5m: 1.25,
  cacheWrite1h: 1.25,
  cacheStyle: "openai-breakpoints",
} as const;

// Gemini: implicit caching reads at the "context caching" price, writes nothing extra; an explicit cache's
// creation is billed as input at the base price (cacheWrite1h 1x, the less favourable reading: the Gemini
// API pricing page lists no creation fee, Vertex AI's says creation is billed as input) plus storage per
// token-hour. Prices: ai.google.dev/gemini-api/docs/pricing, standard tier, prompts <= 200k tokens, as
// republished 2026 (checked 2026-12-02 with the search tool: 2.5 Pro $1.25/$10, cache $0.125, storage
// $4.50/MTok/h; 2.5 Flash $0.30/$2.50, cache $0.03, storage $1.00/MTok/h). Minimum lengths: see
// sim/gemini/models.ts (the simulator's table must agree: test/sim/gemini.test.ts). The Pro models bill a
// prompt over 200k tokens at twice the input and cache prices and 1.5x the output price (2.5 Pro: $2.50,
// $0.25, $15); storage is not banded.
const PRO_BAND = { thresholdTokens: 200_000, multiplier: 2, outputMultiplier: 1.5 } as const;

function gemini(
  input: number,
  output: number,
  cached: number,
  storage: number,
  minCacheableTokens: number,
  extra: Partial<ModelInfo> = {},
): ModelInfo {
  return {
    provider: "gemini",
    inputPerMTok: input,
    outputPerMTok: output,
    cacheWrite5m: 1,
    cacheWrite1h: 1,
    cacheRead: cached / input,
    storagePerMTokHour: storage,
    minCacheableTokens,
    cacheStyle: "gemini",
    retention24h: false,
    // No Gemini tokenizer estimate of its own: o200k's ratio, corrected per tenant by calibration.
    tokenizer: "o200k",
    known: true,
    ...extra,
  };
}

function anthropic(
  input: number,
  output: number,
  read: number,
  minCacheableTokens: number,
  tokenizer: TokenizerFamily,
  extra: Partial<ModelInfo> = {},
): ModelInfo {
  return {
    ...ANTHROPIC,
    inputPerMTok: input,
    outputPerMTok: output,
    cacheRead: read / input,
    minCacheableTokens,
    tokenizer,
    ...extra,
  };
}

function openai(input: number, output: number, cached: number, extra: Partial<ModelInfo> = {}): ModelInfo {
  return { ...OPENAI, inputPerMTok: input, outputPerMTok: output, cacheRead: cached / input, ...extra };
}

// Anthropic minimum lengths: platform.claude.com/docs/en/build-with-claude/prompt-caching, "Cache
// limitations" (checked 2026-12-02): 512 for Opus 5, Fable 5, Mythos 5; 2,048 for Mythos Preview and Opus
// 4.7; 4,096 for Opus 4.6, Opus 4.5 and Haiku 4.5; 1,024 for Opus 4.8, Sonnet 5, Sonnet 4.6, Sonnet 4.5, Opus
// 4.1, Opus 4, Sonnet 4; 2,048 for Haiku 3.5 (older versions of the page: 1,024 for Sonnet 3.7, 2,048 for
// Haiku 3). The simulator's table (sim/anthropic/models.ts) must agree: test/sim/model-minimums.test.ts.
const MIN_5 = "minimum length of the 5.5/5.1 generation assumed equal to its 5.0 sibling";

/** The default table. Keys are model ids without date suffixes. */
export const DEFAULT_MODELS: ModelTable = {
  // Anthropic (cache read given in USD/MTok; the multiplier is derived).
  "claude-fable-5-1": anthropic(10, 50, 0.25, 512, "claude-2026", { assumed: MIN_5 }),
  "claude-mythos-5-1": anthropic(10, 50, 0.25, 512, "claude-2026", { assumed: MIN_5 }),
  "claude-fable-5": anthropic(10, 50, 1, 512, "claude-2026"),
  "claude-mythos-5": anthropic(10, 50, 1, 512, "claude-2026"),
  "claude-opus-5-5": anthropic(4, 20, 0.2, 512, "claude-2026", { assumed: MIN_5 }),
  "claude-opus-5": anthropic(5, 25, 0.5, 512, "claude-2026"),
  // Sonnet 5.5 cache reads were cut from $0.20 to $0.10 on 2026-10-07.
  "claude-sonnet-5-5": anthropic(2, 10, 0.1, 1024, "claude-2026", { assumed: MIN_5 }),
  "claude-sonnet-5": anthropic(2, 10, 0.2, 1024, "claude-2026"),
  "claude-haiku-5-5": anthropic(0.1, 0.5, 0.01, 4096, "claude-2026", {
    longPrompt: { thresholdTokens: 100_000, multiplier: 5 },
    assumed: "minimum length not published; the Haiku 4.5 value is used",
  }),
  "claude-opus-4-8": anthropic(5, 25, 0.5, 1024, "claude-2026"),
  "claude-opus-4-7": anthropic(5, 25, 0.5, 2048, "claude-2026"),
  "claude-opus-4-6": anthropic(5, 25, 0.5, 4096, "claude"),
  "claude-opus-4-5": anthropic(5, 25, 0.5, 4096, "claude"),
  "claude-opus-4-1": anthropic(15, 75, 1.5, 1024, "claude"),
  "claude-opus-4": anthropic(15, 75, 1.5, 1024, "claude"),
  "claude-sonnet-4-6": anthropic(3, 15, 0.3, 1024, "claude"),
  "claude-sonnet-4-5": anthropic(3, 15, 0.3, 1024, "claude"),
  "claude-sonnet-4": anthropic(3, 15, 0.3, 1024, "claude"),
  "claude-3-7-sonnet": anthropic(3, 15, 0.3, 1024, "claude"),
  "claude-haiku-4-5": anthropic(1, 5, 0.1, 4096, "claude"),
  "claude-3-5-haiku": anthropic(0.8, 4, 0.08, 2048, "claude"),
  "claude-3-haiku": anthropic(0.25, 1.25, 0.03, 2048, "claude"),

  // OpenAI (cached input given in USD/MTok).
  "gpt-5.6-sol": openai(5, 30, 0.5, OPENAI_BREAKPOINTS),
  "gpt-5.6-terra": openai(2.5, 15, 0.25, OPENAI_BREAKPOINTS),
  "gpt-5.6-luna": openai(1, 6, 0.1, OPENAI_BREAKPOINTS),
  // gpt-5.5 and later accept only the 24h retention.
  "gpt-5.5": openai(5, 30, 0.5, { retention24h: true }),
  "gpt-5.5-pro": openai(30, 180, 3, { retention24h: true }),
  "gpt-5.4": openai(2.5, 15, 0.25, { retention24h: true }),
  "gpt-5.4-mini": openai(0.75, 4.5, 0.075, { retention24h: true }),
  "gpt-5.4-pro": openai(30, 180, 3, { retention24h: true }),
  "gpt-5.3-codex": openai(1.75, 14, 0.175, { retention24h: true }),
  "gpt-5.2": openai(1.75, 14, 0.175, { retention24h: true }),
  "gpt-5.2-codex": openai(1.75, 14, 0.175, { retention24h: true }),
  "gpt-5.1": openai(1.25, 10, 0.125, { retention24h: true }),
  "gpt-5.1-codex": openai(1.25, 10, 0.125, { retention24h: true }),
  "gpt-5.1-codex-mini": openai(0.25, 2, 0.025, { retention24h: true }),
  "gpt-5.1-chat-latest": openai(1.25, 10, 0.125, { retention24h: true }),
  "gpt-5": openai(1.25, 10, 0.125, { retention24h: true }),
  "gpt-5-codex": openai(1.25, 10, 0.125, { retention24h: true }),
  "gpt-5-mini": openai(0.25, 2, 0.025),
  "gpt-5-nano": openai(0.05, 0.4, 0.005),
  "gpt-4.1": openai(2, 8, 0.5, { retention24h: true }),
  "gpt-4.1-mini": openai(0.4, 1.6, 0.1),
  "gpt-4.1-nano": openai(0.1, 0.4, 0.025),
  "gpt-4o": openai(2.5, 10, 1.25),
  "gpt-4o-mini": openai(0.15, 0.6, 0.075),
  o3: openai(2, 8, 0.5),
  "o4-mini": openai(1.1, 4.4, 0.275),

  // Gemini (context-caching price and storage price given in USD/MTok and USD/MTok/h).
  "gemini-2.5-pro": gemini(1.25, 10, 0.125, 4.5, 4096, { longPrompt: PRO_BAND }),
  "gemini-2.5-flash": gemini(0.3, 2.5, 0.03, 1, 2048),
  "gemini-2.5-flash-lite": gemini(0.1, 0.4, 0.01, 1, 2048, {
    assumed: "minimum length not listed; the 2.5 Flash value is used",
  }),
  "gemini-3-pro": gemini(2, 12, 0.2, 4.5, 4096, { longPrompt: PRO_BAND }),
  "gemini-3-flash": gemini(0.5, 3, 0.05, 1, 1024),
  "gemini-3.1-pro": gemini(2, 12, 0.2, 4.5, 4096, {
    longPrompt: PRO_BAND,
    assumed: "prices of Gemini 3 Pro Preview",
  }),
  "gemini-3.5-flash": gemini(0.5, 3, 0.05, 1, 4096, { assumed: "prices of Gemini 3 Flash Preview" }),
};

/**
 * Stand-ins for models the table does not know. Anthropic's takes the largest documented minimum (4096)
 * so the planner never counts on a cache that would not form; prices are a mid-range guess, flagged by
 * `known: false` so accounting can mark the figure as an estimate.
 */
export const UNKNOWN_MODELS: Readonly<Record<Provider, ModelInfo>> = {
  anthropic: { ...anthropic(3, 15, 0.3, 4096, "claude-2026"), known: false },
  openai: { ...openai(2.5, 15, 0.25), known: false },
  gemini: { ...gemini(1.25, 10, 0.125, 4.5, 4096, { longPrompt: PRO_BAND }), known: false },
  // Bedrock's cache points are placed for Claude models (the Anthropic rows); an unknown id takes Claude's stand-in.
  bedrock: { ...anthropic(3, 15, 0.3, 4096, "claude-2026"), known: false },
};

// Date and platform suffixes; Gemini's `-preview[-MM-DD]`, `-001` and `-latest` versions of a model.
// Bedrock ids end in a model version (`-v1:0`, `-v2`).
const DATE_SUFFIX =
  /^(-\d{8}|-\d{4}-\d{2}-\d{2}|-preview(?:-\d{2}-\d{2})?|-\d{3}|-latest)?(-v\d+(?::\d+)?)?([@[:].*)?$/;
const PROVIDER_PREFIX = /^(?:(?:us|eu|apac|global)\.)?(?:anthropic[./]|openai\/|models\/|google\/)/;

/** Finds a model's row: exact id or id plus a date/platform suffix; unknown ids get the provider's stand-in. */
export function modelInfo(model: string, table: ModelTable = DEFAULT_MODELS, provider?: Provider): ModelInfo {
  const id = model.trim().toLowerCase().replace(PROVIDER_PREFIX, "");
  const exact = table[id];
  if (exact) return exact;
  let best: { key: string; info: ModelInfo } | undefined;
  for (const key in table) {
    if (!id.startsWith(key) || !DATE_SUFFIX.test(id.slice(key.length))) continue;
    const info = table[key];
    if (info && (!best || key.length > best.key.length)) best = { key, info };
  }
  if (best) return best.info;
  return inferUnknown(
    id,
    provider ?? (id.startsWith("claude") ? "anthropic" : id.startsWith("gemini") ? "gemini" : "openai"),
  );
}

// An unknown OpenAI id still tells its generation: 5.6 and later take explicit breakpoints and bill writes.
function inferUnknown(id: string, provider: Provider): ModelInfo {
  const base = UNKNOWN_MODELS[provider];
  if (provider !== "openai") return base;
  const version = /^gpt-(\d+)(?:\.(\d+))?/.exec(id);
  if (!version) return base;
  const major = Number(version[1]);
  const minor = Number(version[2] ?? 0);
  if (major > 5 || (major === 5 && minor >= 6)) return { ...base, ...OPENAI_BREAKPOINTS, known: false };
  if (major === 5 && minor === 5) return { ...base, retention24h: true };
  return base;
}

/** A deployment's partial override of the table: new models, or some fields of existing ones. */
export type ModelTableOverride = Readonly<Record<string, Partial<ModelInfo>>>;

/** Merges a config override into a table; a new model needs `provider` (other fields default from it). */
export function mergeModelTable(base: ModelTable, override: ModelTableOverride): ModelTable {
  const merged: Record<string, ModelInfo> = { ...base };
  for (const [rawKey, patch] of Object.entries(override)) {
    const key = rawKey.toLowerCase();
    const existing = merged[key];
    const provider = patch.provider ?? existing?.provider;
    if (!provider) throw new Error(`model override "${rawKey}" is new and names no provider`);
    merged[key] = { ...(existing ?? { ...UNKNOWN_MODELS[provider], known: true }), ...patch };
  }
  return merged;
}

import type { Outlook } from "../decide/types.ts";
import type { Lasting } from "../decide/write.ts";
import type { WriteTtl } from "../economics/breakEven.ts";
import type { ModelInfo, ModelTable } from "../economics/models.ts";
import type { Calibration } from "../prefix/tokens.ts";
import type { Upstream } from "../prefix/types.ts";

export type { GapSummary, Outlook, PrefixState } from "../decide/types.ts";

export interface TenantCacheSettings {
  /** OpenAI `prompt_cache_retention: "24h"` may be set. */
  allowRetention24h: boolean;
  /** Anthropic 1h writes may be chosen (default true). */
  allow1h?: boolean;
  /** Stoker adds no breakpoints, keys or retention (canonicalization still applies). */
  disabled?: boolean;
}

export interface PlanContext {
  nowMs: number;
  tenant: TenantCacheSettings;
  /** Recent requests per minute of this family (same tenant, model and head), 0 when unknown. */
  familyRatePerMin: number;
  /** A deployment's model table; the default table otherwise. */
  models?: ModelTable;
  /** The request's model row from `models`, looked up once by the edge; planners look it up when absent. */
  model?: ModelInfo;
  /** Reported/estimated token ratio for this tenant and model (prefix/tokens.ts `calibrate`). */
  calibration?: Calibration;
  /** When this family's heads and this conversation's tails come back, as the tracker learned it. */
  outlook?: Outlook;
}

/** Why Stoker marks a position. */
export type BreakpointRole = "read" | "head" | "seen" | "tail" | "pre" | "bridge";

export interface PlannedBreakpoint {
  segment: number;
  /** OpenAI breakpoints inherit `prompt_cache_options.ttl`, "30m". */
  ttl: WriteTtl | "30m";
  role: BreakpointRole;
  /** Estimated prompt tokens through this position. */
  tokens: number;
}

export interface AnthropicPlan {
  upstream: "anthropic";
  /** Breakpoints Stoker adds, in prompt order; the client's own are kept as they are. */
  breakpoints: PlannedBreakpoint[];
  clientBreakpoints: number;
  autoCache: boolean;
  /** Estimated tokens read from cache and written to it under this plan. */
  expected: { readTokens: number; writeTokens: number };
  /** Short reasons, for logs and the header. */
  notes: string[];
  /** How the write is meant to last (5m, 5m held by pings, 1h), and the return chances that chose it. */
  lasting?: { lasting: Lasting; p5m: number; p1h: number };
}

export interface OpenAIPlan {
  upstream: Extract<Upstream, "openai-chat" | "openai-responses">;
  /** The `prompt_cache_key` Stoker sets, or null when it sets none (the client's is respected). */
  promptCacheKey: { value: string; shard: number; shards: number } | null;
  retention: "24h" | null;
  /** `prompt_cache_options.mode` Stoker sets (GPT-5.6+), or null. */
  cacheMode: "explicit" | null;
  /** `prompt_cache_breakpoint` positions Stoker adds (GPT-5.6+). */
  breakpoints: PlannedBreakpoint[];
  notes: string[];
}

export type Plan = AnthropicPlan | OpenAIPlan;

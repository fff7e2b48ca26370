import type { CompatModelPrice, CompatUpstream } from "../core/compat-config.ts";
import { type ModelInfo, UNKNOWN_MODELS } from "./models.ts";

/** Turns a compat price row into the model table's shape (multipliers of the base input price). */
function fromPrice(p: CompatModelPrice, upstream: CompatUpstream, known: boolean): ModelInfo {
  const write = (p.cacheWrite ?? p.input) / p.input;
  return {
    ...UNKNOWN_MODELS.openai,
    inputPerMTok: p.input,
    outputPerMTok: p.output,
    cacheRead: p.cachedInput / p.input,
    // One write price: compat usage fields do not split writes by TTL (OpenRouter's cache_write_tokens).
    cacheWrite5m: write,
    cacheWrite1h: write,
    minCacheableTokens: p.minCacheableTokens ?? upstream.minCacheableTokens,
    cacheStyle: "openai-implicit",
    retention24h: false,
    known,
    ...(p.longPrompt ? { longPrompt: p.longPrompt } : {}),
  };
}

/**
 * The model row of a compat upstream's model: its own price table (exact id, case-insensitive), else the
 * OpenAI stand-in's prices marked `known: false`, so accounting shows the figure as an estimate.
 */
export function compatModelInfo(upstream: CompatUpstream, model: string): ModelInfo {
  const price = upstream.models[model.trim().toLowerCase()];
  if (price) return fromPrice(price, upstream, true);
  return { ...UNKNOWN_MODELS.openai, minCacheableTokens: upstream.minCacheableTokens, known: false };
}

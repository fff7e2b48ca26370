import { DEFAULT_MODELS, type ModelInfo, type ModelTable, modelInfo } from "./models.ts";

/**
 * A request's token usage, as src/upstream/usage.ts normalizes it: `inputTokens` is the whole prompt and the
 * four parts are disjoint (OpenAI's `cache_write_tokens` on GPT-5.6+ count as 5m writes).
 */
export interface UsageRecord {
  inputTokens: number;
  /** Prompt tokens neither read nor written; derived from the others when absent. */
  uncachedTokens?: number;
  cacheReadTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
  outputTokens: number;
}

/** The model row for a usage record: a model id (looked up) or a row the caller already has. */
export type ModelRef = string | ModelInfo;

function resolve(model: ModelRef, table: ModelTable): ModelInfo {
  return typeof model === "string" ? modelInfo(model, table) : model;
}

function uncached(u: UsageRecord): number {
  if (u.uncachedTokens !== undefined) return u.uncachedTokens;
  return Math.max(0, u.inputTokens - u.cacheReadTokens - u.cacheWrite5mTokens - u.cacheWrite1hTokens);
}

// Haiku 5.5 bills every token of a long prompt, output included, at a higher band; Gemini Pro bills its output
// at a band of its own.
function band(info: ModelInfo, promptTokens: number, output = false): number {
  const long = info.longPrompt;
  if (!long || promptTokens <= long.thresholdTokens) return 1;
  return output ? (long.outputMultiplier ?? long.multiplier) : long.multiplier;
}

/** USD the provider bills for a usage record. */
export function costOfUsage(model: ModelRef, usage: UsageRecord, table: ModelTable = DEFAULT_MODELS): number {
  const m = resolve(model, table);
  const input =
    uncached(usage) +
    usage.cacheReadTokens * m.cacheRead +
    usage.cacheWrite5mTokens * m.cacheWrite5m +
    usage.cacheWrite1hTokens * m.cacheWrite1h;
  return (
    (input * m.inputPerMTok * band(m, usage.inputTokens) +
      usage.outputTokens * m.outputPerMTok * band(m, usage.inputTokens, true)) /
    1e6
  );
}

/** USD the same request would have cost with no prompt caching at all (the baseline savings are measured against). */
export function costWithoutCache(
  model: ModelRef,
  usage: UsageRecord,
  table: ModelTable = DEFAULT_MODELS,
): number {
  const m = resolve(model, table);
  const prompt =
    uncached(usage) + usage.cacheReadTokens + usage.cacheWrite5mTokens + usage.cacheWrite1hTokens;
  return (
    (prompt * m.inputPerMTok * band(m, usage.inputTokens) +
      usage.outputTokens * m.outputPerMTok * band(m, usage.inputTokens, true)) /
    1e6
  );
}

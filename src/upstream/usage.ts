/** Token usage normalized across providers. `inputTokens` is the whole prompt. */
export interface Usage {
  inputTokens: number;
  uncachedTokens: number;
  cacheReadTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
  outputTokens: number;
}

type Json = Record<string, unknown>;

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0;
}

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : undefined;
}

/**
 * Anthropic usage: `input_tokens` counts only what follows the last breakpoint; creation is split by TTL
 * in `cache_creation` (absent on older responses, where all of it is 5m).
 */
export function anthropicUsage(u: unknown): Usage | null {
  const usage = obj(u);
  if (!usage) return null;
  const uncached = num(usage.input_tokens);
  const read = num(usage.cache_read_input_tokens);
  const created = num(usage.cache_creation_input_tokens);
  const split = obj(usage.cache_creation);
  const w1h = split ? num(split.ephemeral_1h_input_tokens) : 0;
  const w5m = split ? num(split.ephemeral_5m_input_tokens) : created;
  return {
    inputTokens: uncached + read + w5m + w1h,
    uncachedTokens: uncached,
    cacheReadTokens: read,
    cacheWrite5mTokens: w5m,
    cacheWrite1hTokens: w1h,
    outputTokens: num(usage.output_tokens),
  };
}

/** Merges a later Anthropic usage snapshot (message_delta) over an earlier one (message_start). */
export function mergeAnthropicUsage(earlier: Json | undefined, later: Json): Json {
  const merged: Json = { ...earlier };
  for (const [k, v] of Object.entries(later)) if (v !== null && v !== undefined) merged[k] = v;
  return merged;
}

/**
 * OpenAI Chat Completions usage: `prompt_tokens` includes `prompt_tokens_details.cached_tokens` and, on
 * GPT-5.6+, `cache_write_tokens` (billed 1.25x; counted as 5m writes, see economics/cost.ts).
 */
export function openAIChatUsage(u: unknown): Usage | null {
  const usage = obj(u);
  if (!usage) return null;
  const details = obj(usage.prompt_tokens_details);
  return openAIShape(
    num(usage.prompt_tokens),
    num(details?.cached_tokens),
    num(details?.cache_write_tokens),
    num(usage.completion_tokens),
  );
}

/** OpenAI Responses usage: `input_tokens` includes `input_tokens_details.cached_tokens` and `cache_write_tokens`. */
export function openAIResponsesUsage(u: unknown): Usage | null {
  const usage = obj(u);
  if (!usage) return null;
  const details = obj(usage.input_tokens_details);
  return openAIShape(
    num(usage.input_tokens),
    num(details?.cached_tokens),
    num(details?.cache_write_tokens),
    num(usage.output_tokens),
  );
}

// The three input parts are disjoint and never exceed the prompt (a malformed answer is clamped).
function openAIShape(prompt: number, cachedRaw: number, writeRaw: number, output: number): Usage {
  const cached = Math.min(prompt, cachedRaw);
  const write = Math.min(prompt - cached, writeRaw);
  return {
    inputTokens: prompt,
    uncachedTokens: prompt - cached - write,
    cacheReadTokens: cached,
    cacheWrite5mTokens: write,
    cacheWrite1hTokens: 0,
    outputTokens: output,
  };
}

/** The compact `x-stoker-cache` header value. */
export function usageHeader(u: Usage): string {
  return `read=${u.cacheReadTokens} write=${u.cacheWrite5mTokens + u.cacheWrite1hTokens} uncached=${u.uncachedTokens}`;
}

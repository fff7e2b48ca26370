import { invalid } from "../errors.ts";
import { isObject, type JsonObject } from "../json.ts";
import type { Namespace } from "../namespace.ts";
import type { ResolvedOptions } from "../options.ts";
import type { BilledUsage } from "../stats.ts";
import { parseCacheOptions, takesBreakpoints } from "./breakpoints.ts";
import type { BreakpointMode } from "./cache.ts";
import type { OpenAIPrompt } from "./prompt.ts";
import { type Retention, resolveRetention } from "./retention.ts";

/** Fields both OpenAI endpoints share. */
export interface CommonRequest {
  model: string;
  stream: boolean;
  tools: JsonObject[];
  promptCacheKey: string | undefined;
  retention: Retention;
  /** GPT-5.6+ only: `prompt_cache_options.mode`. */
  cacheMode: BreakpointMode;
}

/** Validates the shared fields with OpenAI's error messages. */
export function parseCommon(body: JsonObject, opts: ResolvedOptions): CommonRequest {
  if (body.model === undefined)
    throw invalid("Missing required parameter: 'model'.", "model", "missing_required_parameter");
  if (typeof body.model !== "string" || body.model === "") {
    throw invalid("Invalid type for 'model': expected a string.", "model", "invalid_type");
  }
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== "boolean") {
    throw invalid("Invalid type for 'stream': expected a boolean.", "stream", "invalid_type");
  }
  const key = body.prompt_cache_key;
  if (key !== undefined && key !== null && typeof key !== "string") {
    throw invalid(
      "Invalid type for 'prompt_cache_key': expected a string.",
      "prompt_cache_key",
      "invalid_type",
    );
  }
  let tools: JsonObject[] = [];
  if (body.tools !== undefined && body.tools !== null) {
    if (!Array.isArray(body.tools) || !body.tools.every(isObject)) {
      throw invalid("Invalid type for 'tools': expected an array of objects.", "tools", "invalid_type");
    }
    tools = body.tools;
  }
  return {
    model: body.model,
    stream: body.stream === true,
    tools,
    promptCacheKey: typeof key === "string" ? key : undefined,
    retention: resolveRetention(body.model, body.prompt_cache_retention, opts.openaiDefaultRetention),
    cacheMode: parseCacheOptions(body.model, body.prompt_cache_options),
  };
}

/** Validates an optional output cap (`max_tokens`, `max_completion_tokens`, `max_output_tokens`). */
export function parseCap(body: JsonObject, field: string, min: number): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw invalid(`Invalid type for '${field}': expected an integer.`, field, "invalid_type");
  }
  if (v < min) {
    throw invalid(
      `Invalid '${field}': integer below minimum value. Expected a value >= ${min}, but got ${v} instead.`,
      field,
      "integer_below_min_value",
    );
  }
  return v;
}

/** Input usage of one request after the cache lookup. */
export interface PromptUsage {
  promptTokens: number;
  cachedTokens: number;
  /** GPT-5.6+: tokens written at breakpoints (billed 1.25x); undefined on older models. */
  writeTokens?: number;
}

/** Routes the prompt through the namespace's cache machines (breakpoint caching on GPT-5.6+). */
export function servePrompt(ns: Namespace, prompt: OpenAIPrompt, req: CommonRequest): PromptUsage {
  if (takesBreakpoints(req.model)) {
    const r = ns.openai.serveBreakpoints(prompt, req.promptCacheKey, req.cacheMode, ns.now());
    return { promptTokens: prompt.tokens, cachedTokens: r.cachedTokens, writeTokens: r.writeTokens ?? 0 };
  }
  const { cachedTokens } = ns.openai.serve(prompt, req.promptCacheKey, req.retention, ns.now());
  return { promptTokens: prompt.tokens, cachedTokens };
}

/** Adds one answered request to the namespace's stats and returns the billed usage. */
export function bill(ns: Namespace, usage: PromptUsage, output: number): BilledUsage {
  const write = usage.writeTokens ?? 0;
  // OpenAI writes have no 5m/1h split: they are counted in the write5m column (as Stoker's UsageRecord does).
  const billed: BilledUsage = {
    uncached: usage.promptTokens - usage.cachedTokens - write,
    read: usage.cachedTokens,
    write5m: write,
    write1h: 0,
    output,
  };
  ns.stats.bill("openai", billed);
  return billed;
}

/** Cuts ASCII text to at most `tokens` tokens (4 bytes each). */
export function cut(text: string, tokens: number | undefined): string {
  return tokens === undefined ? text : text.slice(0, tokens * 4);
}

/** Text of a message content (string or parts). */
export function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.flatMap((p) => (isObject(p) && typeof p.text === "string" ? [p.text] : [])).join(" ");
}

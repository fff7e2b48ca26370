import { invalid } from "../errors.ts";
import { isObject } from "../json.ts";
import type { BreakpointMode } from "./cache.ts";

/**
 * True for models with GPT-5.6+ prompt caching: explicit `prompt_cache_breakpoint`s, `prompt_cache_options`,
 * billed writes reported as `cache_write_tokens` (developers.openai.com/api/docs/guides/prompt-caching: "For
 * GPT-5.6 models and later model families, cache writes cost 1.25x the uncached input token rate").
 */
export function takesBreakpoints(model: string): boolean {
  const m = /^gpt-(\d+)(?:\.(\d+))?/.exec(model);
  if (!m) return false;
  const major = Number(m[1]);
  const minor = Number(m[2] ?? 0);
  return major > 5 || (major === 5 && minor >= 6);
}

/**
 * The request's `prompt_cache_options.mode` (default `implicit`), or the simulator's 400s: the object, `mode`
 * (`implicit` | `explicit`) and `ttl` (`30m`, the only value) as the SDK types them; the option on an older
 * model is refused (_choice_: the error of the real API is not documented).
 */
export function parseCacheOptions(model: string, v: unknown): BreakpointMode {
  if (v === undefined || v === null) return "implicit";
  if (!takesBreakpoints(model)) {
    throw invalid(
      `prompt_cache_options is not supported with the model '${model}'.`,
      "prompt_cache_options",
      "unsupported_parameter",
    );
  }
  if (!isObject(v)) {
    throw invalid(
      "Invalid type for 'prompt_cache_options': expected an object.",
      "prompt_cache_options",
      "invalid_type",
    );
  }
  if (v.ttl !== undefined && v.ttl !== null && v.ttl !== "30m") {
    throw invalid(
      `Invalid value: '${String(v.ttl)}'. Supported values are: '30m'.`,
      "prompt_cache_options.ttl",
      "invalid_value",
    );
  }
  if (v.mode === undefined || v.mode === null || v.mode === "implicit") return "implicit";
  if (v.mode === "explicit") return "explicit";
  throw invalid(
    `Invalid value: '${String(v.mode)}'. Supported values are: 'implicit' and 'explicit'.`,
    "prompt_cache_options.mode",
    "invalid_value",
  );
}

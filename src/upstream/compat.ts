import type { CompatUpstream, CompatUsageFields } from "../core/compat-config.ts";
import { type EndpointSpec, openAIChat } from "./endpoints.ts";
import type { Usage } from "./usage.ts";
import { openAIChatWatcher } from "./watchers.ts";

type Json = Record<string, unknown>;

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : undefined;
}

/** The first of `paths` (dotted, under `usage`) that holds a non-negative number. */
function firstNumber(usage: Json, paths: readonly string[]): number {
  for (const path of paths) {
    let v: unknown = usage;
    for (const key of path.split(".")) v = obj(v)?.[key];
    if (typeof v === "number" && Number.isFinite(v) && v >= 0) return v;
  }
  return 0;
}

/**
 * Chat Completions usage of an OpenAI-compatible upstream: `prompt_tokens` is the whole prompt, the
 * upstream's own fields (COMPAT_UPSTREAMS `usage`) carry the cached and written parts. DeepSeek's
 * `prompt_cache_hit_tokens` + `prompt_cache_miss_tokens` equal `prompt_tokens`; a malformed answer is clamped.
 */
export function compatUsage(u: unknown, fields: CompatUsageFields): Usage | null {
  const usage = obj(u);
  if (!usage) return null;
  const prompt = firstNumber(usage, ["prompt_tokens"]);
  const cached = Math.min(prompt, firstNumber(usage, fields.cached));
  const write = Math.min(prompt - cached, firstNumber(usage, fields.cacheWrite));
  return {
    inputTokens: prompt,
    uncachedTokens: prompt - cached - write,
    cacheReadTokens: cached,
    cacheWrite5mTokens: write,
    cacheWrite1hTokens: 0,
    outputTokens: firstNumber(usage, ["completion_tokens"]),
  };
}

const specs = new WeakMap<CompatUpstream, EndpointSpec>();

/**
 * The Chat Completions endpoint of one compat upstream: OpenAI's validation and error shapes, the upstream's
 * usage fields. Keepalive pings are not built for compat upstreams (docs/providers.md).
 */
export function compatChat(upstream: CompatUpstream): EndpointSpec {
  let spec = specs.get(upstream);
  if (!spec) {
    spec = {
      ...openAIChat,
      jsonUsage: (json) => compatUsage(json.usage, upstream.usage),
      watcher: () => openAIChatWatcher((u) => compatUsage(u, upstream.usage)),
      pingable: false,
      compat: upstream,
    };
    specs.set(upstream, spec);
  }
  return spec;
}

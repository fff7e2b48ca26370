import type { Context } from "hono";
import type { SimDeps, SimEnv } from "../context.ts";
import { invalid, ProviderError } from "../errors.ts";
import { hashOf } from "../hash.ts";
import { isObject, type JsonObject, parseJsonObject } from "../json.ts";
import type { Namespace } from "../namespace.ts";
import { renderChat } from "../openai/render.ts";
import { cut, parseCap, textOf } from "../openai/request.ts";
import { sseEvent, sseResponse } from "../sse.ts";
import { textTokens } from "../tokens.ts";
import type { CompatServed } from "./cache.ts";

/** The providers `/compat/{preset}/...` stands in for (README "Compat providers"). */
export const COMPAT_SIM_PRESETS = ["deepseek", "xai", "moonshot", "openrouter"] as const;
export type CompatSimPreset = (typeof COMPAT_SIM_PRESETS)[number];

const PIECE = 24;

// Anthropic minimums behind OpenRouter (platform.claude.com prompt caching; src/core/compat-presets.ts agrees).
const ANTHROPIC_MIN: Record<string, number> = { "claude-haiku-4.5": 4096, "claude-opus-4.6": 4096 };

/** OpenRouter's `cache_control` parts become the renderer's breakpoints; `ttl: "1h"` noted by position. */
function markCacheControl(messages: JsonObject[]): JsonObject[] {
  return messages.map((m) =>
    Array.isArray(m.content)
      ? {
          ...m,
          content: m.content.map((p) => {
            if (!isObject(p)) return p;
            const { prompt_cache_breakpoint: _ignored, ...rest } = p;
            return isObject(p.cache_control) ? { ...rest, prompt_cache_breakpoint: p.cache_control } : rest;
          }),
        }
      : m,
  );
}

function serve(
  preset: CompatSimPreset,
  ns: Namespace,
  c: Context<SimEnv>,
  model: string,
  messages: JsonObject[],
  tools: JsonObject[],
  format: unknown,
): CompatServed {
  const now = ns.now();
  const caches = ns.compat;
  if (preset === "openrouter" && model.startsWith("anthropic/")) {
    const marked = markCacheControl(messages);
    const prompt = renderChat(model, marked, tools, format);
    // Positions of parts marked with ttl "1h": the boundary right after such a part.
    const oneHour = new Set<number>();
    const ttlPrompt = renderChat(
      model,
      marked.map((m) =>
        Array.isArray(m.content)
          ? {
              ...m,
              content: m.content.map((p) =>
                isObject(p) && isObject(p.cache_control) && p.cache_control.ttl === "1h"
                  ? p
                  : isObject(p)
                    ? { ...p, prompt_cache_breakpoint: undefined }
                    : p,
              ),
            }
          : m,
      ),
      tools,
      format,
    );
    for (const b of ttlPrompt.boundaries ?? []) if (b.explicit) oneHour.add(b.tokens);
    return caches.openrouterAnthropic.serve(prompt, oneHour, ANTHROPIC_MIN[model.slice(10)] ?? 1024, now);
  }
  const prompt = renderChat(model, messages, tools, format);
  if (preset === "deepseek") return caches.deepseek.serve(prompt, now);
  if (preset === "xai") {
    const conv = c.req.header("x-grok-conv-id");
    const key = conv ? Number.parseInt(hashOf(conv).slice(0, 8), 16) : undefined;
    return caches.xai.serve(prompt, key, now);
  }
  if (preset === "moonshot") return caches.moonshot.serve(prompt, 0, now);
  return caches.openrouterOther.serve(prompt, 0, now);
}

/** Each provider's `usage` object, with its own cached-token fields (src/core/compat-presets.ts cites them). */
function usageOf(preset: CompatSimPreset, prompt: number, s: CompatServed, completion: number): JsonObject {
  const base = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  if (preset === "deepseek")
    return {
      ...base,
      prompt_cache_hit_tokens: s.cachedTokens,
      prompt_cache_miss_tokens: prompt - s.cachedTokens,
      completion_tokens_details: { reasoning_tokens: 0 },
    };
  if (preset === "openrouter")
    return {
      ...base,
      prompt_tokens_details: {
        cached_tokens: s.cachedTokens,
        cache_write_tokens: s.writeTokens,
        audio_tokens: 0,
      },
      completion_tokens_details: { reasoning_tokens: 0 },
    };
  return {
    ...base,
    prompt_tokens_details: {
      text_tokens: prompt,
      audio_tokens: 0,
      image_tokens: 0,
      cached_tokens: s.cachedTokens,
    },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
}

/** `POST /compat/{preset}/v1/chat/completions` (DeepSeek's own path has no `/v1`: both are served). */
export function compatChat(c: Context<SimEnv>, deps: SimDeps): Response {
  const preset = c.req.param("preset") as CompatSimPreset;
  if (!(COMPAT_SIM_PRESETS as readonly string[]).includes(preset))
    throw new ProviderError({ status: 404, message: `Unknown compat preset ${preset}` });
  const { opts, ids } = deps;
  const body = parseJsonObject(c.var.body);
  if (!body) throw invalid("We could not parse the JSON body of your request.");
  if (typeof body.model !== "string" || body.model === "")
    throw invalid("Missing required parameter: 'model'.", "model", "missing_required_parameter");
  if (!Array.isArray(body.messages) || body.messages.length === 0 || !body.messages.every(isObject))
    throw invalid("Invalid 'messages': expected a non-empty array of objects.", "messages", "invalid_type");
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== "boolean")
    throw invalid("Invalid type for 'stream': expected a boolean.", "stream", "invalid_type");
  const tools = Array.isArray(body.tools) ? body.tools.filter(isObject) : [];
  const model = body.model;
  const messages = body.messages as JsonObject[];
  const stream = body.stream === true;
  const cap = parseCap(body, "max_completion_tokens", 1) ?? parseCap(body, "max_tokens", 1);

  const ns = c.var.ns;
  const prompt = renderChat(model, messages, tools, body.response_format).tokens;
  const served = serve(preset, ns, c, model, messages, tools, body.response_format);
  const users = messages.filter((m) => m.role === "user");
  const full = opts.reply({
    provider: "openai",
    model,
    turn: users.length,
    lastUserText: textOf(users.at(-1)?.content),
  });
  const text = cut(full, cap);
  const completion = textTokens(text);
  if (preset === "deepseek")
    ns.compat.deepseek.persistAnswer(
      renderChat(model, [...messages, { role: "assistant", content: text }], tools, body.response_format),
      ns.now(),
    );
  const billed = {
    uncached: prompt - served.cachedTokens - served.writeTokens,
    read: served.cachedTokens,
    write5m: served.writeTokens,
    write1h: 0,
    output: completion,
  };
  ns.stats.bill("compat", billed);
  c.var.record.usage = billed;

  const usage = usageOf(preset, prompt, served, completion);
  const id = ids.next("chatcmpl-", 29);
  const created = Math.floor(ns.now() / 1000);
  const finish = text === full ? "stop" : "length";
  const headers = { "x-request-id": c.var.requestId };
  if (!stream)
    return c.json(
      {
        id,
        object: "chat.completion",
        created,
        model,
        choices: [
          { index: 0, message: { role: "assistant", content: text }, logprobs: null, finish_reason: finish },
        ],
        usage,
        system_fingerprint: `fp_${hashOf(model).slice(0, 10)}`,
      },
      200,
      headers,
    );
  // OpenRouter always ends a stream with usage; the others only when asked with stream_options.include_usage.
  const includeUsage =
    preset === "openrouter" || (isObject(body.stream_options) && body.stream_options.include_usage === true);
  const chunk = (choices: JsonObject[], extra: JsonObject = includeUsage ? { usage: null } : {}) =>
    sseEvent(undefined, { id, object: "chat.completion.chunk", created, model, choices, ...extra });
  const choice = (delta: JsonObject, reason: string | null = null) => ({
    index: 0,
    delta,
    logprobs: null,
    finish_reason: reason,
  });
  const events = [chunk([choice({ role: "assistant", content: "" })])];
  for (let i = 0; i < text.length; i += PIECE)
    events.push(chunk([choice({ content: text.slice(i, i + PIECE) })]));
  events.push(chunk([choice({}, finish)]));
  if (includeUsage) events.push(chunk([], { usage }));
  events.push(sseEvent(undefined, "[DONE]"));
  return sseResponse(events, opts.streamDelayMs, headers);
}

import type { SegmentLoc } from "../prefix/types.ts";

type Json = Record<string, unknown>;

/** A keepalive request body, and what it costs beyond the cache read. */
export interface PingBody {
  body: Json;
  /** Output tokens the ping may bill (0 for a `max_tokens: 0` pre-warm). */
  maxOutputTokens: number;
  /** Why the ping is not a pure pre-warm, if it is not. */
  fallback: string | null;
}

const FILLER = { role: "user", content: "." };

/**
 * The cheapest Anthropic request that reads the prefix ending at `loc` of a forwarded (canonical, planned)
 * body: everything after the breakpoint is cut, the marker stays, and `max_tokens: 0` pre-warms without
 * output. Pre-warm is refused with thinking or a forced tool choice: a thinking prefix in the messages keeps
 * thinking (it is part of that cache level) with the smallest budget; a forced tool choice becomes a 1-token
 * answer. Head-only prefixes (tools, system) drop both: they do not affect that level.
 */
export function anthropicPingBody(forwarded: Json, loc: SegmentLoc): PingBody {
  const body: Json = { ...forwarded };
  // `diagnostics`: the edge asks for cache diagnostics on the request it sends, which is what it captures.
  for (const k of [
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "metadata",
    "diagnostics",
  ])
    delete body[k];
  const messages = Array.isArray(forwarded.messages) ? (forwarded.messages as Json[]) : [];
  if (loc.area === "messages" && !loc.inserted) {
    const kept = messages.slice(0, loc.index + 1).map((m) => ({ ...m }));
    const last = kept[kept.length - 1];
    if (last && Array.isArray(last.content) && loc.block !== undefined && loc.block >= 0) {
      last.content = (last.content as unknown[]).slice(0, loc.block + 1);
    }
    if (last?.role === "assistant") kept.push(FILLER);
    body.messages = kept;
  } else {
    // The prefix ends in tools or system: messages only need to exist.
    body.messages = [FILLER];
    delete body.thinking;
    delete body.tool_choice;
  }
  const thinking = body.thinking as Json | undefined;
  const toolChoice = body.tool_choice as Json | undefined;
  const forced = toolChoice?.type === "tool" || toolChoice?.type === "any";
  if (thinking && thinking.type !== "disabled") {
    const budget = 1024; // the API's minimum thinking budget
    if (thinking.type === "enabled") body.thinking = { ...thinking, budget_tokens: budget };
    body.max_tokens = budget + 1;
    return { body, maxOutputTokens: budget + 1, fallback: "thinking" };
  }
  if (forced) {
    body.max_tokens = 1;
    return { body, maxOutputTokens: 1, fallback: "forced_tool_choice" };
  }
  body.max_tokens = 0;
  return { body, maxOutputTokens: 0, fallback: null };
}

/**
 * A ping through Bedrock's InvokeModel: the Anthropic ping with one output token, since Bedrock documents no
 * `max_tokens: 0` pre-warm (the less favourable reading).
 */
export function bedrockInvokePingBody(forwarded: Json, loc: SegmentLoc): PingBody {
  const ping = anthropicPingBody(forwarded, loc);
  if (ping.maxOutputTokens > 0) return ping;
  return { body: { ...ping.body, max_tokens: 1 }, maxOutputTokens: 1, fallback: null };
}

const CONVERSE_FILLER = { role: "user", content: [{ text: "." }] };

/**
 * The cheapest Converse request that reads the prefix ending at `loc` (a position of the Anthropic body the
 * Converse body stands for, whose messages are the Converse messages one for one): the messages after the
 * marked one are cut (the marked one is kept whole: its own blocks and cachePoints are not counted alike),
 * one output token, no sampling settings. System and tools stay: they are the prefix.
 */
export function conversePingBody(forwarded: Json, loc: SegmentLoc): PingBody {
  const { inferenceConfig: _i, ...body } = forwarded;
  const messages = Array.isArray(forwarded.messages) ? (forwarded.messages as Json[]) : [];
  if (loc.area === "messages" && !loc.inserted) {
    const kept = messages.slice(0, loc.index + 1);
    if (kept.at(-1)?.role === "assistant") kept.push(CONVERSE_FILLER);
    body.messages = kept;
  } else body.messages = [CONVERSE_FILLER];
  body.inferenceConfig = { maxTokens: 1 };
  return { body, maxOutputTokens: 1, fallback: null };
}

/**
 * The cheapest Chat Completions request that reads the forwarded prompt's cached prefix: the same tools,
 * messages and `prompt_cache_key` (which routes it to the same cache), one output token, no stream. OpenAI
 * caches the whole prompt automatically, so nothing is cut.
 */
export function openAIChatPingBody(forwarded: Json): PingBody {
  const body: Json = { ...forwarded };
  for (const k of [
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "n",
    "stop",
    "metadata",
    "user",
    "store",
    "max_tokens",
  ]) {
    delete body[k];
  }
  body.max_completion_tokens = 1;
  return { body, maxOutputTokens: 1, fallback: null };
}

/**
 * The same for the Responses API: the same instructions, input, tools and `prompt_cache_key`, the smallest
 * output the API accepts (16 tokens), no stream, and `store: false` so the ping leaves no stored response.
 */
export function openAIResponsesPingBody(forwarded: Json): PingBody {
  const body: Json = { ...forwarded };
  for (const k of ["stream", "stream_options", "temperature", "top_p", "metadata", "user", "background"])
    delete body[k];
  body.max_output_tokens = 16;
  body.store = false;
  return { body, maxOutputTokens: 16, fallback: null };
}

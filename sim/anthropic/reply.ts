import { hashOf } from "../hash.ts";
import type { JsonObject } from "../json.ts";
import type { ReplyContext } from "../options.ts";
import { jsonTokens, textTokens } from "../tokens.ts";
import type { CacheOutcome } from "./cache.ts";
import { forcedTool, type MessagesRequest, thinkingOn } from "./request.ts";

/** The generated assistant turn. */
export interface AnthropicReply {
  content: JsonObject[];
  stopReason: "end_turn" | "max_tokens" | "tool_use";
  outputTokens: number;
}

/** Cuts ASCII text to at most `tokens` tokens (4 bytes each). */
function cut(text: string, tokens: number): string {
  return text.slice(0, Math.max(0, tokens) * 4);
}

/**
 * Deterministic output: a thinking block first when thinking is on, then a `tool_use` when tool_choice forces
 * one, else the reply text; the total is capped by max_tokens (`max_tokens: 0` is the empty pre-warm answer).
 */
export function buildReply(
  req: MessagesRequest,
  ctx: ReplyContext,
  write: (ctx: ReplyContext) => string,
  toolUseId: () => string,
): AnthropicReply {
  let budget = req.maxTokens ?? 0;
  if (budget === 0) return { content: [], stopReason: "max_tokens", outputTokens: 0 };
  const content: JsonObject[] = [];
  let used = 0;
  if (thinkingOn(req)) {
    const full = `Thinking about turn ${ctx.turn} before answering.`;
    const thinking = cut(full, budget);
    const tokens = textTokens(thinking);
    content.push({
      type: "thinking",
      thinking,
      signature: `Er${hashOf("sig", thinking)}${hashOf(thinking, "sig")}`,
    });
    used += tokens;
    budget -= tokens;
    if (thinking !== full || budget === 0) return { content, stopReason: "max_tokens", outputTokens: used };
  }
  const tool = forcedTool(req);
  if (tool !== undefined) {
    const input = {};
    content.push({ type: "tool_use", id: toolUseId(), name: tool, input });
    return { content, stopReason: "tool_use", outputTokens: used + jsonTokens(input) };
  }
  const full = write(ctx);
  const text = cut(full, budget);
  content.push({ type: "text", text });
  return {
    content,
    stopReason: text === full ? "end_turn" : "max_tokens",
    outputTokens: used + textTokens(text),
  };
}

/** The `usage` object of a message (non-streaming and `message_start`). */
export function usageJson(c: CacheOutcome, outputTokens: number): JsonObject {
  return {
    input_tokens: c.uncached,
    cache_creation_input_tokens: c.write5m + c.write1h,
    cache_read_input_tokens: c.read,
    cache_creation: { ephemeral_5m_input_tokens: c.write5m, ephemeral_1h_input_tokens: c.write1h },
    output_tokens: outputTokens,
    service_tier: "standard",
  };
}

/** The non-streaming response body. */
export function messageJson(
  id: string,
  model: string,
  reply: AnthropicReply,
  cache: CacheOutcome,
  diagnostics: JsonObject | null = null,
): JsonObject {
  return {
    id,
    type: "message",
    role: "assistant",
    model,
    content: reply.content,
    stop_reason: reply.stopReason,
    stop_sequence: null,
    usage: usageJson(cache, reply.outputTokens),
    diagnostics,
  };
}

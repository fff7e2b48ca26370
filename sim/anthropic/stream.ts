import type { JsonObject } from "../json.ts";
import { sseEvent } from "../sse.ts";
import type { CacheOutcome } from "./cache.ts";
import { type AnthropicReply, usageJson } from "./reply.ts";

/** Size of the text pieces of `content_block_delta` events. */
const PIECE = 24;

function pieces(s: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += PIECE) out.push(s.slice(i, i + PIECE));
  return out.length > 0 ? out : [""];
}

function blockEvents(block: JsonObject, index: number): string[] {
  const delta = (d: JsonObject) =>
    sseEvent("content_block_delta", { type: "content_block_delta", index, delta: d });
  if (block.type === "thinking") {
    return [
      sseEvent("content_block_start", {
        type: "content_block_start",
        index,
        content_block: { type: "thinking", thinking: "", signature: "" },
      }),
      ...pieces(String(block.thinking)).map((thinking) => delta({ type: "thinking_delta", thinking })),
      delta({ type: "signature_delta", signature: String(block.signature) }),
    ];
  }
  if (block.type === "tool_use") {
    return [
      sseEvent("content_block_start", {
        type: "content_block_start",
        index,
        content_block: { type: "tool_use", id: block.id, name: block.name, input: {} },
      }),
      ...pieces(JSON.stringify(block.input)).map((partial_json) =>
        delta({ type: "input_json_delta", partial_json }),
      ),
    ];
  }
  return [
    sseEvent("content_block_start", {
      type: "content_block_start",
      index,
      content_block: { type: "text", text: "" },
    }),
    ...pieces(String(block.text)).map((text) => delta({ type: "text_delta", text })),
  ];
}

/**
 * The SSE events of a streamed message, in the real order: message_start (input and cache usage),
 * per block content_block_start / deltas / content_block_stop (a ping after the first start), message_delta
 * (stop reason and cumulative usage), message_stop.
 */
export function messageEvents(
  id: string,
  model: string,
  reply: AnthropicReply,
  cache: CacheOutcome,
  diagnostics: JsonObject | null = null,
): string[] {
  const events = [
    sseEvent("message_start", {
      type: "message_start",
      message: {
        id,
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: usageJson(cache, Math.min(1, reply.outputTokens)),
        diagnostics,
      },
    }),
  ];
  reply.content.forEach((block, index) => {
    const [start, ...deltas] = blockEvents(block, index);
    if (start) events.push(start);
    if (index === 0) events.push(sseEvent("ping", { type: "ping" }));
    events.push(...deltas, sseEvent("content_block_stop", { type: "content_block_stop", index }));
  });
  events.push(
    sseEvent("message_delta", {
      type: "message_delta",
      delta: { stop_reason: reply.stopReason, stop_sequence: null },
      usage: {
        input_tokens: cache.uncached,
        cache_creation_input_tokens: cache.write5m + cache.write1h,
        cache_read_input_tokens: cache.read,
        output_tokens: reply.outputTokens,
      },
    }),
    sseEvent("message_stop", { type: "message_stop" }),
  );
  return events;
}

import type { EventSourceMessage } from "eventsource-parser";
import {
  type AnswerEnd,
  anthropicAnswerEnd,
  openAIChatAnswerEnd,
  openAIResponsesAnswerEnd,
} from "./answer.ts";
import { type MessageFacts, messageFacts } from "./diagnostics.ts";
import type { SseWatcher } from "./sse.ts";
import {
  anthropicUsage,
  mergeAnthropicUsage,
  openAIChatUsage,
  openAIResponsesUsage,
  type Usage,
} from "./usage.ts";

type Json = Record<string, unknown>;

function parse(data: string): Json | undefined {
  try {
    const v: unknown = JSON.parse(data);
    return v !== null && typeof v === "object" ? (v as Json) : undefined;
  } catch {
    return undefined;
  }
}

/** Usage-reading SSE watcher with the fields every provider's watcher shares. */
export interface UsageWatcher extends SseWatcher {
  usage(): Usage | null;
  /** The upstream sent an error event inside the stream. */
  upstreamError: boolean;
  /** Anthropic: the message id and cache diagnostics of `message_start`. */
  facts?(): MessageFacts | null;
  /** How the answer ended (a tool call or a reply), once the stream said. */
  answer?(): AnswerEnd | null;
}

/** Anthropic: usage in message_start, updated (cumulatively) by message_delta; message_stop ends it. */
export function anthropicWatcher(): UsageWatcher {
  let raw: Json | undefined;
  let facts: MessageFacts | null = null;
  let answer: AnswerEnd | null = null;
  return {
    finished: false,
    upstreamError: false,
    onEvent(ev: EventSourceMessage) {
      // Content deltas are most events and carry no usage: skip them without parsing.
      switch (ev.event) {
        case "message_start": {
          const message = parse(ev.data)?.message as Json | undefined;
          if (message?.usage) raw = mergeAnthropicUsage(raw, message.usage as Json);
          facts = messageFacts(message);
          break;
        }
        case "message_delta": {
          const delta = parse(ev.data);
          const usage = delta?.usage as Json | undefined;
          if (usage) raw = mergeAnthropicUsage(raw, usage);
          answer = anthropicAnswerEnd((delta?.delta as Json | undefined)?.stop_reason) ?? answer;
          break;
        }
        case "message_stop":
          this.finished = true;
          break;
        case "error":
          this.finished = true;
          this.upstreamError = true;
          break;
      }
    },
    usage: () => (raw ? anthropicUsage(raw) : null),
    facts: () => facts,
    answer: () => answer,
  };
}

const usageObject = /"usage"\s*:\s*\{/;
const finishReason = /"finish_reason"\s*:\s*"([a-z_]{1,40})"/;
// A non-empty array: some servers (vLLM) put `"tool_calls":[]` on every content delta.
const toolCalls = /"tool_calls"\s*:\s*\[\s*\{/;

/**
 * OpenAI Chat Completions: usage arrives in the last chunk (when include_usage is on); [DONE] ends it.
 * `readUsage` reads the chunk's `usage` object: OpenAI's own fields, or an OpenAI-compatible upstream's.
 */
export function openAIChatWatcher(
  readUsage: (usage: unknown) => Usage | null = openAIChatUsage,
): UsageWatcher {
  let usage: Usage | null = null;
  let answer: AnswerEnd | null = null;
  return {
    finished: false,
    upstreamError: false,
    onEvent(ev: EventSourceMessage) {
      if (ev.data === "[DONE]") {
        this.finished = true;
        return;
      }
      // A tool call's delta, or the chunk that ends the choice, says how it ends: found without parsing (a
      // function named in tool_choice finishes with "stop", yet the client must run it).
      if (answer !== "tool") {
        if (toolCalls.test(ev.data)) answer = "tool";
        else {
          const reason = answer === null ? finishReason.exec(ev.data) : null;
          if (reason) answer = openAIChatAnswerEnd(reason[1]);
        }
      }
      // Content chunks are most events and carry neither: skip them without parsing.
      const hasError = ev.data.includes('"error"');
      const hasUsage = usageObject.test(ev.data);
      if (!hasError && !hasUsage) return;
      const chunk = parse(ev.data);
      if (hasError && chunk?.error) {
        this.finished = true;
        this.upstreamError = true;
        return;
      }
      if (hasUsage) usage = readUsage(chunk?.usage) ?? usage;
    },
    usage: () => usage,
    answer: () => answer,
  };
}

const responsesTerminal = new Set(["response.completed", "response.incomplete", "response.failed"]);

/** OpenAI Responses: the terminal response.* event carries the response with its usage. */
export function openAIResponsesWatcher(): UsageWatcher {
  let usage: Usage | null = null;
  let answer: AnswerEnd | null = null;
  return {
    finished: false,
    upstreamError: false,
    onEvent(ev: EventSourceMessage) {
      const type = ev.event;
      if (type && responsesTerminal.has(type)) {
        const response = parse(ev.data)?.response as Json | undefined;
        usage = openAIResponsesUsage(response?.usage) ?? usage;
        answer = openAIResponsesAnswerEnd(response);
        this.finished = true;
        if (type === "response.failed") this.upstreamError = true;
      } else if (type === "error") {
        this.finished = true;
        this.upstreamError = true;
      }
    },
    usage: () => usage,
    answer: () => answer,
  };
}

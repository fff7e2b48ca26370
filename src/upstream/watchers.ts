import type { EventSourceMessage } from "eventsource-parser";
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
}

/** Anthropic: usage in message_start, updated (cumulatively) by message_delta; message_stop ends it. */
export function anthropicWatcher(): UsageWatcher {
  let raw: Json | undefined;
  let facts: MessageFacts | null = null;
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
          const usage = parse(ev.data)?.usage as Json | undefined;
          if (usage) raw = mergeAnthropicUsage(raw, usage);
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
  };
}

const usageObject = /"usage"\s*:\s*\{/;

/**
 * OpenAI Chat Completions: usage arrives in the last chunk (when include_usage is on); [DONE] ends it.
 * `readUsage` reads the chunk's `usage` object: OpenAI's own fields, or an OpenAI-compatible upstream's.
 */
export function openAIChatWatcher(
  readUsage: (usage: unknown) => Usage | null = openAIChatUsage,
): UsageWatcher {
  let usage: Usage | null = null;
  return {
    finished: false,
    upstreamError: false,
    onEvent(ev: EventSourceMessage) {
      if (ev.data === "[DONE]") {
        this.finished = true;
        return;
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
  };
}

const responsesTerminal = new Set(["response.completed", "response.incomplete", "response.failed"]);

/** OpenAI Responses: the terminal response.* event carries the response with its usage. */
export function openAIResponsesWatcher(): UsageWatcher {
  let usage: Usage | null = null;
  return {
    finished: false,
    upstreamError: false,
    onEvent(ev: EventSourceMessage) {
      const type = ev.event;
      if (type && responsesTerminal.has(type)) {
        const response = parse(ev.data)?.response as Json | undefined;
        usage = openAIResponsesUsage(response?.usage) ?? usage;
        this.finished = true;
        if (type === "response.failed") this.upstreamError = true;
      } else if (type === "error") {
        this.finished = true;
        this.upstreamError = true;
      }
    },
    usage: () => usage,
  };
}

import type { CompatUpstream } from "../core/compat-config.ts";
import { StokerError, streamErrors } from "../core/errors.ts";
import type { Provider } from "../core/provider.ts";
import {
  type AnswerEnd,
  anthropicAnswerEnd,
  openAIChatJsonAnswerEnd,
  openAIResponsesAnswerEnd,
} from "./answer.ts";
import type { EventStreamWatcher } from "./eventstream.ts";
import type { Endpoint } from "./outcome.ts";
import { anthropicUsage, openAIChatUsage, openAIResponsesUsage, type Usage } from "./usage.ts";
import {
  anthropicWatcher,
  openAIChatWatcher,
  openAIResponsesWatcher,
  type UsageWatcher,
} from "./watchers.ts";

/** What differs between the wire formats Stoker proxies; the proxy handler is the same for all. */
export interface EndpointSpec<E extends string = Endpoint> {
  flavor: Provider;
  endpoint: E;
  /** Throws a 400 StokerError when the body lacks what the upstream certainly requires. */
  validate(body: Record<string, unknown>): void;
  jsonUsage(json: Record<string, unknown>): Usage | null;
  /** How a JSON answer ended (a tool call or a reply), where the format says. */
  jsonAnswer?(json: Record<string, unknown>): AnswerEnd | null;
  watcher(): UsageWatcher;
  /** The SSE text that tells the client a stream broke, in the provider's own stream error shape. */
  streamError(message: string): string;
  /** Model and streaming when the wire format does not carry them in the body (Gemini: in the URL). */
  facts?(body: Record<string, unknown>, url: URL): { model: string; stream: boolean };
  /** Answers in AWS event-stream framing (Bedrock): their reader and the message that reports a break. */
  eventStream?: {
    watcher(): EventStreamWatcher & {
      usage(): Usage | null;
      upstreamError: boolean;
      answer?(): AnswerEnd | null;
    };
    errorFrame(message: string): Uint8Array;
  };
  /** False where a request caches nothing, so keepalive never captures it (count_tokens). */
  pingable?: boolean;
  /** An OpenAI-compatible upstream (`/compat/{name}`): its URL, key, usage fields and prices replace OpenAI's. */
  compat?: CompatUpstream;
}

function requireString(body: Record<string, unknown>, field: string): void {
  const v = body[field];
  if (v === undefined)
    throw new StokerError(400, "invalid_request_error", `${field}: Field required`, { param: field });
  if (typeof v !== "string" || v === "") {
    throw new StokerError(400, "invalid_request_error", `${field}: must be a non-empty string`, {
      param: field,
    });
  }
}

function requireArray(body: Record<string, unknown>, field: string): void {
  const v = body[field];
  if (v === undefined)
    throw new StokerError(400, "invalid_request_error", `${field}: Field required`, { param: field });
  if (!Array.isArray(v))
    throw new StokerError(400, "invalid_request_error", `${field}: must be an array`, { param: field });
}

function optionalBoolean(body: Record<string, unknown>, field: string): void {
  const v = body[field];
  if (v !== undefined && v !== null && typeof v !== "boolean") {
    throw new StokerError(400, "invalid_request_error", `${field}: must be a boolean`, { param: field });
  }
}

export const anthropicMessages: EndpointSpec = {
  flavor: "anthropic",
  endpoint: "messages",
  validate(body) {
    requireString(body, "model");
    requireArray(body, "messages");
    optionalBoolean(body, "stream");
  },
  jsonUsage: (json) => anthropicUsage(json.usage),
  jsonAnswer: (json) => anthropicAnswerEnd(json.stop_reason),
  watcher: anthropicWatcher,
  streamError: streamErrors.anthropic,
};

export const anthropicCountTokens: EndpointSpec = {
  ...anthropicMessages,
  endpoint: "count_tokens",
  // count_tokens bills nothing, caches nothing and answers nothing.
  jsonUsage: () => null,
  jsonAnswer: () => null,
  pingable: false,
};

export const openAIChat: EndpointSpec = {
  flavor: "openai",
  endpoint: "chat.completions",
  validate(body) {
    requireString(body, "model");
    requireArray(body, "messages");
    optionalBoolean(body, "stream");
  },
  jsonUsage: (json) => openAIChatUsage(json.usage),
  jsonAnswer: openAIChatJsonAnswerEnd,
  watcher: openAIChatWatcher,
  streamError: streamErrors.openAIChat,
};

export const openAIResponses: EndpointSpec = {
  flavor: "openai",
  endpoint: "responses",
  validate(body) {
    requireString(body, "model");
    optionalBoolean(body, "stream");
  },
  jsonUsage: (json) => openAIResponsesUsage(json.usage),
  jsonAnswer: openAIResponsesAnswerEnd,
  watcher: openAIResponsesWatcher,
  streamError: streamErrors.openAIResponses,
};

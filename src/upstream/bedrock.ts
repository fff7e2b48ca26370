import { bedrockErrorType, StokerError } from "../core/errors.ts";
import { type AnswerEnd, anthropicAnswerEnd } from "./answer.ts";
import type { EndpointSpec } from "./endpoints.ts";
import {
  type EventStreamWatcher,
  encodeException,
  eventStreamCodec,
  type StreamMessage,
} from "./eventstream.ts";
import { anthropicUsage, type Usage } from "./usage.ts";
import { anthropicWatcher, type UsageWatcher } from "./watchers.ts";

type Json = Record<string, unknown>;

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0;
}

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : undefined;
}

const decoder = new TextDecoder();

function parse(bytes: Uint8Array | string): Json | undefined {
  try {
    return obj(JSON.parse(typeof bytes === "string" ? bytes : decoder.decode(bytes)));
  } catch {
    return undefined;
  }
}

/**
 * Converse `usage`: `inputTokens` is only the input neither read from nor written to the cache; the prompt is
 * `inputTokens + cacheReadInputTokens + cacheWriteInputTokens` (docs.aws.amazon.com/bedrock/latest/userguide/
 * prompt-caching.html). `cacheDetails` splits the writes by TTL ("1h", "5m"); without it every write is 5m.
 */
export function converseUsage(u: unknown): Usage | null {
  const usage = obj(u);
  if (!usage) return null;
  const uncached = num(usage.inputTokens);
  const read = num(usage.cacheReadInputTokens);
  const written = num(usage.cacheWriteInputTokens);
  const details = Array.isArray(usage.cacheDetails) ? usage.cacheDetails : [];
  const w1h = Math.min(
    written,
    details.reduce((n: number, d) => n + (obj(d)?.ttl === "1h" ? num(obj(d)?.inputTokens) : 0), 0),
  );
  return {
    inputTokens: uncached + read + written,
    uncachedTokens: uncached,
    cacheReadTokens: read,
    cacheWrite5mTokens: written - w1h,
    cacheWrite1hTokens: w1h,
    outputTokens: num(usage.outputTokens),
  };
}

/** What reads a Bedrock event stream: the usage it carries and whether it ended with an exception. */
export interface BedrockStreamWatcher extends EventStreamWatcher {
  usage(): Usage | null;
  upstreamError: boolean;
  /** How the answer ended, once the stream said. */
  answer(): AnswerEnd | null;
}

/**
 * A Bedrock stream watcher: an exception message ends the stream as an upstream error; every event message
 * goes to `onEvent`, which reads it and sets `finished` / `upstreamError` on the watcher it is given.
 */
function eventStreamWatcher(
  onEvent: (m: StreamMessage, watcher: BedrockStreamWatcher) => void,
  usage: () => Usage | null,
  answer: () => AnswerEnd | null,
): BedrockStreamWatcher {
  return {
    finished: false,
    upstreamError: false,
    onMessage(m: StreamMessage) {
      if (m.messageType !== "event") {
        this.finished = true;
        this.upstreamError = true;
        return;
      }
      onEvent(m, this);
    },
    usage,
    answer,
  };
}

/**
 * InvokeModelWithResponseStream: each `chunk` event carries `{"bytes": base64}` of one Anthropic Messages
 * stream event (message_start, …, message_stop), read by the Anthropic watcher; an exception ends it.
 */
export function invokeStreamWatcher(): BedrockStreamWatcher {
  const inner = anthropicWatcher();
  return eventStreamWatcher(
    (m, watcher) => {
      if (m.type !== "chunk") return;
      const b64 = parse(m.payload)?.bytes;
      if (typeof b64 !== "string") return;
      let text: string;
      try {
        text = decoder.decode(Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0)));
      } catch {
        return;
      }
      const type = parse(text)?.type;
      if (typeof type !== "string") return;
      inner.onEvent({ event: type, data: text, id: undefined });
      if (inner.upstreamError) watcher.upstreamError = true;
      if (inner.finished) watcher.finished = true;
    },
    () => inner.usage(),
    () => inner.answer?.() ?? null,
  );
}

/** ConverseStream: `messageStop` carries the stop reason, `metadata` (the last event) the usage; an exception ends it. */
export function converseStreamWatcher(): BedrockStreamWatcher {
  let usage: Usage | null = null;
  let answer: AnswerEnd | null = null;
  return eventStreamWatcher(
    (m, watcher) => {
      if (m.type === "messageStop") answer = anthropicAnswerEnd(parse(m.payload)?.stopReason) ?? answer;
      if (m.type !== "metadata") return;
      usage = converseUsage(parse(m.payload)?.usage) ?? usage;
      watcher.finished = true;
    },
    () => usage,
    () => answer,
  );
}

/** The exception message that tells an AWS SDK client its stream broke (an `internalServerException`). */
export function bedrockStreamError(message: string): Uint8Array {
  const type = bedrockErrorType("api_error");
  return encodeException(eventStreamCodec(), `${type[0]?.toLowerCase()}${type.slice(1)}`, message);
}

const CALL = /\/model\/([^/]+)\/(converse|converse-stream|invoke|invoke-with-response-stream)$/;

/** The model id and the operation of a bedrock-runtime call, from its path (`/model/{modelId}/{operation}`). */
export function bedrockCall(url: URL): { model: string; operation: string } | null {
  const m = CALL.exec(url.pathname);
  if (!m) return null;
  let model: string;
  try {
    model = decodeURIComponent(m[1] as string);
  } catch {
    return null;
  }
  return { model, operation: m[2] as string };
}

/** A Claude model on Bedrock (`anthropic.claude-…`, or a cross-region profile `us.anthropic.claude-…`). */
export function isClaudeOnBedrock(model: string): boolean {
  return /^(?:[a-z]{2,6}\.)?anthropic\.claude/.test(model);
}

/**
 * The model a request names: its id, or for an ARN (`arn:aws:bedrock:{region}:{account}:inference-profile/{id}`,
 * `…:foundation-model/{id}`) the id after the resource type, so the model table and the planner know it.
 */
export function bedrockModel(modelId: string): string {
  return modelId.replace(/^arn:aws[a-z-]*:bedrock:[^:]*:[^:]*:[a-z-]+\//, "");
}

const facts = (_body: Json, url: URL) => {
  const call = bedrockCall(url);
  return { model: bedrockModel(call?.model ?? ""), stream: call?.operation.endsWith("-stream") === true };
};

function fail(message: string): never {
  throw new StokerError(400, "invalid_request_error", message);
}

/** A watcher for the SSE path of the relay: Bedrock never answers with SSE, so it never sees an event. */
const noSse = (): UsageWatcher => ({
  finished: false,
  upstreamError: false,
  onEvent() {},
  usage: () => null,
});

/**
 * `model/{modelId}/invoke` and `/invoke-with-response-stream`: the body is the model's own; for Claude an
 * Anthropic Messages body with `anthropic_version` (`bedrock-2023-05-31`) and without `model`.
 */
export const bedrockInvoke: EndpointSpec = {
  flavor: "bedrock",
  endpoint: "invoke",
  validate(body) {
    // Only Claude bodies are known here; another model's body goes to Bedrock, which judges it.
    if (body.anthropic_version === undefined && body.messages === undefined) return;
    if (!Array.isArray(body.messages)) fail("messages: expected an array of messages.");
    if (body.anthropic_version !== undefined && typeof body.anthropic_version !== "string")
      fail("anthropic_version: expected a string.");
  },
  jsonUsage: (json) => anthropicUsage(json.usage),
  jsonAnswer: (json) => anthropicAnswerEnd(json.stop_reason),
  watcher: noSse,
  streamError: () => "",
  eventStream: { watcher: invokeStreamWatcher, errorFrame: bedrockStreamError },
  facts,
};

/** `model/{modelId}/converse` and `/converse-stream`. */
export const bedrockConverse: EndpointSpec = {
  flavor: "bedrock",
  endpoint: "converse",
  validate(body) {
    if (body.messages !== undefined && !Array.isArray(body.messages))
      fail(
        "1 validation error detected: Value at 'messages' failed to satisfy constraint: Member must be a list.",
      );
    if (body.messages === undefined && body.promptVariables === undefined)
      fail("The messages field is required.");
    if (body.system !== undefined && !Array.isArray(body.system))
      fail(
        "1 validation error detected: Value at 'system' failed to satisfy constraint: Member must be a list.",
      );
  },
  jsonUsage: (json) => converseUsage(json.usage),
  // Converse names its stop reasons as Anthropic does (`tool_use`, `end_turn`).
  jsonAnswer: (json) => anthropicAnswerEnd(json.stopReason),
  watcher: noSse,
  streamError: () => "",
  eventStream: { watcher: converseStreamWatcher, errorFrame: bedrockStreamError },
  facts,
};

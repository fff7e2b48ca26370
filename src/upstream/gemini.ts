import type { EventSourceMessage } from "eventsource-parser";
import { StokerError, streamErrors } from "../core/errors.ts";
import type { EndpointSpec } from "./endpoints.ts";
import type { Usage } from "./usage.ts";
import type { UsageWatcher } from "./watchers.ts";

type Json = Record<string, unknown>;

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0;
}

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : undefined;
}

/**
 * Gemini `usageMetadata`: `promptTokenCount` includes `cachedContentTokenCount` (implicit or explicit cache
 * reads); tool-use prompt tokens are input too; thinking tokens bill as output (ai.google.dev/api/generate-content
 * "UsageMetadata"). Gemini writes no cache on a request: an explicit cache is created by its own call.
 */
export function geminiUsage(u: unknown): Usage | null {
  const usage = obj(u);
  if (!usage) return null;
  const prompt = num(usage.promptTokenCount) + num(usage.toolUsePromptTokenCount);
  const cached = Math.min(prompt, num(usage.cachedContentTokenCount));
  return {
    inputTokens: prompt,
    uncachedTokens: prompt - cached,
    cacheReadTokens: cached,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
    outputTokens: num(usage.candidatesTokenCount) + num(usage.thoughtsTokenCount),
  };
}

/** Usage of a JSON answer: one response, or the array a stream without `alt=sse` sends (the last usage). */
function jsonUsage(json: unknown): Usage | null {
  if (Array.isArray(json)) {
    for (let i = json.length - 1; i >= 0; i--) {
      const u = obj(json[i])?.usageMetadata;
      if (u) return geminiUsage(u);
    }
    return null;
  }
  return geminiUsage(obj(json)?.usageMetadata);
}

/**
 * Gemini SSE (`alt=sse`): every chunk carries the usage so far (the last one is complete); the chunk with a
 * candidate's `finishReason` ends the answer; an `error` object inside the stream is an upstream error.
 */
export function geminiWatcher(): UsageWatcher {
  let usage: Usage | null = null;
  return {
    finished: false,
    upstreamError: false,
    onEvent(ev: EventSourceMessage) {
      let chunk: Json | undefined;
      try {
        chunk = obj(JSON.parse(ev.data));
      } catch {
        return;
      }
      if (!chunk) return;
      if (obj(chunk.error)) {
        this.finished = true;
        this.upstreamError = true;
        return;
      }
      if (chunk.usageMetadata) usage = geminiUsage(chunk.usageMetadata) ?? usage;
      const candidates = Array.isArray(chunk.candidates) ? chunk.candidates : [];
      if (candidates.some((c) => typeof obj(c)?.finishReason === "string")) this.finished = true;
      // A prompt the API blocks ends the stream with promptFeedback.blockReason and no candidate.
      if (typeof obj(chunk.promptFeedback)?.blockReason === "string") this.finished = true;
    },
    usage: () => usage,
  };
}

const METHOD = /\/models\/([^/:]+):([A-Za-z]+)$/;

/** The model and the method of a Gemini model call, from its path (`/v1beta/models/{model}:{method}`). */
export function geminiCall(url: URL): { model: string; method: string } | null {
  const m = METHOD.exec(url.pathname);
  return m ? { model: decodeURIComponent(m[1] as string), method: m[2] as string } : null;
}

function requireContents(body: Json, where: string): void {
  const contents = body.contents;
  if (!Array.isArray(contents) || contents.length === 0)
    throw new StokerError(400, "invalid_request_error", `* ${where}.contents: contents is not specified`);
  if (contents.some((c) => !obj(c)))
    throw new StokerError(
      400,
      "invalid_request_error",
      `Invalid value at 'contents': expected Content objects.`,
    );
}

const facts = (_body: Json, url: URL) => ({
  model: geminiCall(url)?.model ?? "",
  stream: geminiCall(url)?.method === "streamGenerateContent",
});

/** `models/{model}:generateContent` and `:streamGenerateContent` (SSE with `alt=sse`). */
export const geminiGenerate: EndpointSpec = {
  flavor: "gemini",
  endpoint: "generate_content",
  validate(body) {
    requireContents(body, "GenerateContentRequest");
  },
  jsonUsage,
  watcher: geminiWatcher,
  streamError: streamErrors.gemini,
  facts,
  // Keepalive pings for Gemini are not built yet (its caches are implicit, or explicit with a TTL to extend).
  pingable: false,
};

/** `models/{model}:countTokens`: passed through; bills nothing and caches nothing. */
export const geminiCountTokens: EndpointSpec = {
  ...geminiGenerate,
  endpoint: "count_tokens",
  validate(body) {
    const inner = obj(body.generateContentRequest);
    if (inner) requireContents(inner, "CountTokensRequest.generate_content_request");
    else requireContents(body, "CountTokensRequest");
  },
  jsonUsage: () => null,
};

import { analyzeAnthropic } from "../../src/canonicalize/anthropic.ts";
import { analyzeOpenAIChat } from "../../src/canonicalize/openaiChat.ts";
import { analyzeOpenAIResponses } from "../../src/canonicalize/openaiResponses.ts";
import { DEFAULT_RULES } from "../../src/canonicalize/rules.ts";
import type { Analysis, AnalyzeInput } from "../../src/prefix/types.ts";
import {
  anthropicMessages,
  type EndpointSpec,
  openAIChat,
  openAIResponses,
} from "../../src/upstream/endpoints.ts";
import type { TraceLine } from "../economics/trace.ts";

/**
 * One line of a user's traffic log, parsed. Pure (no I/O): the CLI reads the file, this reads a line.
 *
 * Two formats, told apart line by line (the first valid line sets the file's format):
 * - a Mooncake trace line: `{"timestamp": <ms>, "input_length": <tokens>, "output_length": <tokens>,
 *   "hash_ids": [<one id per 512-token block, chained>]}`;
 * - a request body with its time: `{"timestamp": <ms since the epoch, or an ISO 8601 string>,
 *   "provider": "anthropic" | "openai", "endpoint"?: ..., "body": {...}}`, or the bare body with a
 *   `timestamp` (and optional `provider` / `endpoint`) field of its own.
 * Each body goes through Stoker's own canonicalizer and prefix chain (src/canonicalize, src/prefix), exactly
 * as the proxy analyzes a request (src/edge/prepare.ts), to get its chain digests and token estimates.
 */

export type Provider = "anthropic" | "openai";
export type BodyEndpoint = "messages" | "chat.completions" | "responses";

/** A chain digest of a request: the hash of its prefix through one segment. */
export interface Digest {
  hash: string;
  /** Estimated prompt tokens through the segment. */
  tokens: number;
  /** Index of the segment: strictly increasing along any chain, so it orders the prefixes of one prompt. */
  depth: number;
}

/** What the replay keeps of a request body. */
export interface BodyRequest {
  atMs: number;
  provider: Provider;
  endpoint: BodyEndpoint;
  model: string;
  /** In segment order (shallowest first). */
  digests: Digest[];
  /** Estimated prompt tokens of the whole request. */
  totalTokens: number;
  /** Estimated tokens of the stable head (tools + system / instructions), 0 when there is none. */
  headTokens: number;
}

export type ParsedLine =
  | { kind: "blank" }
  | { kind: "trace"; line: TraceLine }
  | { kind: "body"; request: BodyRequest }
  | { kind: "error"; reason: string };

/** The salt of h0 in a replay: one pretend tenant, so every request of the log can share prefixes. */
const REPLAY_SALT = "stoker-replay";

const SPECS: Readonly<Record<BodyEndpoint, EndpointSpec>> = {
  messages: anthropicMessages,
  "chat.completions": openAIChat,
  responses: openAIResponses,
};

const ANALYZERS: Readonly<Record<BodyEndpoint, (input: AnalyzeInput) => Analysis>> = {
  messages: analyzeAnthropic,
  "chat.completions": analyzeOpenAIChat,
  responses: analyzeOpenAIResponses,
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const error = (reason: string): ParsedLine => ({ kind: "error", reason });

/** Parses one line of a traffic log. Never throws: a bad line comes back as `{kind: "error", reason}`. */
export function parseLine(text: string): ParsedLine {
  const trimmed = text.trim();
  if (trimmed === "") return { kind: "blank" };
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (e) {
    return error(`invalid JSON${e instanceof SyntaxError ? `: ${e.message.slice(0, 120)}` : ""}`);
  }
  if (!isObject(value)) return error("not a JSON object");
  try {
    return "hash_ids" in value ? parseTraceLine(value) : parseBodyLine(value);
  } catch (e) {
    // The analyzers are written not to throw on odd bodies; this is the last guard of "never crash".
    return error(
      `could not analyze the request: ${e instanceof Error ? e.message.slice(0, 160) : String(e)}`,
    );
  }
}

const BLOCK = 512;

function parseTraceLine(v: Record<string, unknown>): ParsedLine {
  const { timestamp, input_length: input, output_length: output, hash_ids: ids } = v;
  if (typeof timestamp !== "number" || !Number.isFinite(timestamp))
    return error("trace line: timestamp must be a number (milliseconds)");
  if (typeof input !== "number" || !Number.isInteger(input) || input <= 0)
    return error("trace line: input_length must be a positive integer");
  if (output !== undefined && (typeof output !== "number" || !Number.isFinite(output) || output < 0))
    return error("trace line: output_length must be a non-negative number");
  if (!Array.isArray(ids) || !ids.every((id) => Number.isSafeInteger(id) && (id as number) >= 0))
    return error("trace line: hash_ids must be an array of non-negative integers");
  const blocks = Math.ceil(input / BLOCK);
  if (ids.length !== blocks)
    return error(
      `trace line: ${ids.length} hash_ids for input_length ${input} (expected ceil(${input} / 512) = ${blocks})`,
    );
  return {
    kind: "trace",
    line: {
      timestamp,
      input_length: input,
      output_length: (output as number | undefined) ?? 0,
      hash_ids: ids as number[],
    },
  };
}

/** Milliseconds since the epoch from a number (taken as milliseconds) or an ISO 8601 string. */
function timeOf(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string" && v.trim() !== "") {
    const ms = Date.parse(v);
    return Number.isFinite(ms) ? ms : null;
  }
  return null;
}

/** `messages`, `/v1/messages`, `https://api.anthropic.com/v1/messages`, ... to an endpoint. */
function endpointOf(v: unknown): BodyEndpoint | null | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") return null;
  const path = v
    .trim()
    .replace(/[?#].*$/, "")
    .replace(/\/+$/, "");
  if (path === "messages" || path.endsWith("/messages")) return "messages";
  if (path === "chat.completions" || path === "chat/completions" || path.endsWith("/chat/completions"))
    return "chat.completions";
  if (path === "responses" || path.endsWith("/responses")) return "responses";
  return null;
}

/** The provider a bare body's model name implies, if any. */
function providerOfModel(model: unknown): Provider | null {
  if (typeof model !== "string") return null;
  const m = model.trim().toLowerCase();
  if (m.startsWith("claude") || m.startsWith("anthropic/")) return "anthropic";
  if (/^(gpt|chatgpt|o\d|codex|openai\/)/.test(m)) return "openai";
  return null;
}

function parseBodyLine(v: Record<string, unknown>): ParsedLine {
  const wrapped = "body" in v;
  let body: Record<string, unknown>;
  if (wrapped) {
    if (!isObject(v.body)) return error("body must be a JSON object");
    body = v.body;
  } else {
    const { timestamp: _t, provider: _p, endpoint: _e, ...rest } = v;
    body = rest;
  }
  if (!("timestamp" in v)) return error("missing timestamp (milliseconds since the epoch, or ISO 8601)");
  const atMs = timeOf(v.timestamp);
  if (atMs === null) return error("timestamp must be milliseconds since the epoch or an ISO 8601 string");

  let provider: Provider;
  if (v.provider !== undefined) {
    if (v.provider !== "anthropic" && v.provider !== "openai")
      return error(`unknown provider ${JSON.stringify(v.provider)?.slice(0, 40)} (anthropic or openai)`);
    provider = v.provider;
  } else {
    const guess = providerOfModel(body.model) ?? (body.input !== undefined ? "openai" : null);
    if (!guess) return error('no provider: add "provider": "anthropic" or "openai"');
    provider = guess;
  }
  const named = endpointOf(v.endpoint);
  if (named === null) return error(`unknown endpoint ${JSON.stringify(v.endpoint)?.slice(0, 60)}`);
  const endpoint: BodyEndpoint =
    named ??
    (provider === "anthropic" ? "messages" : body.messages === undefined ? "responses" : "chat.completions");
  if ((provider === "anthropic") !== (endpoint === "messages"))
    return error(`endpoint ${endpoint} is not an ${provider} endpoint`);

  try {
    SPECS[endpoint].validate(body);
  } catch (e) {
    return error(`invalid ${endpoint} body: ${e instanceof Error ? e.message : String(e)}`);
  }
  const analysis = ANALYZERS[endpoint]({
    raw: "",
    body,
    salt: REPLAY_SALT,
    rules: { ...DEFAULT_RULES },
  });
  const digests: Digest[] = [];
  analysis.segments.forEach((s, i) => {
    if (s.hash !== undefined) digests.push({ hash: s.hash, tokens: s.cumulativeTokens, depth: i });
  });
  if (analysis.totalTokens <= 0) return error("the request has no prompt tokens");
  const head = analysis.headEnd >= 0 ? (analysis.segments[analysis.headEnd]?.cumulativeTokens ?? 0) : 0;
  return {
    kind: "body",
    request: {
      atMs,
      provider,
      endpoint,
      model: analysis.model,
      digests,
      totalTokens: analysis.totalTokens,
      headTokens: head,
    },
  };
}

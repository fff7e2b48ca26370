import type { Context } from "hono";
import type { SimDeps, SimEnv } from "../context.ts";
import { ProviderError } from "../errors.ts";
import { isObject, type JsonObject, parseJsonObject } from "../json.ts";
import type { Namespace } from "../namespace.ts";
import { eventStream } from "../sse.ts";
import type { BilledUsage } from "../stats.ts";
import { textTokens } from "../tokens.ts";
import type { CachedContent } from "./cache.ts";
import { bareModel, geminiMinimum } from "./models.ts";
import {
  type Block,
  type Head,
  invalidArgument,
  lastUserText,
  parseContents,
  promptBlocks,
} from "./prompt.ts";

/** What a request's prompt is billed as. */
interface PromptUsage {
  prompt: number;
  cached: number;
}

export function parseBody(c: Context<SimEnv>): JsonObject {
  const body = parseJsonObject(c.var.body);
  if (!body) throw invalidArgument("Invalid JSON payload received. Unexpected token.");
  return body;
}

const HEAD_FIELDS = ["systemInstruction", "tools", "toolConfig"] as const;

/**
 * The prompt of a generateContent body, through its explicit cache when it names one. A request that uses a
 * cache and also sets what a cache holds is refused, as the API does.
 */
export function resolvePrompt(
  ns: Namespace,
  model: string,
  body: JsonObject,
): { blocks: Block[]; cache: CachedContent | null; head: Head; contents: JsonObject[] } {
  const contents = parseContents(body);
  const name = body.cachedContent;
  if (name === undefined || name === null) {
    const head: Head = {
      systemInstruction: body.systemInstruction,
      tools: body.tools,
      toolConfig: body.toolConfig,
    };
    if (contents.length === 0)
      throw invalidArgument("* GenerateContentRequest.contents: contents is not specified");
    return { blocks: promptBlocks(model, head, contents), cache: null, head, contents };
  }
  if (typeof name !== "string") throw invalidArgument("Invalid value at 'cached_content' (TYPE_STRING).");
  // Source: the error the API returns (ai.google.dev/gemini-api/docs/caching: "the cached content ... acts
  // as a prefix"; a request "can't" also set system_instruction, tools or tool_config).
  if (HEAD_FIELDS.some((f) => body[f] !== undefined && body[f] !== null))
    throw invalidArgument(
      "CachedContent can not be used with GenerateContent request setting system_instruction, tools or tool_config.\n\nProposed fix: move those values to CachedContent from GenerateContent request.",
    );
  const cache = ns.gemini.get(name, ns.now());
  if (!cache)
    throw new ProviderError({
      status: 403,
      message: "CachedContent not found (or permission denied)",
      status_text: "PERMISSION_DENIED",
    });
  if (cache.model !== `models/${model}`)
    throw invalidArgument(
      `Model used by GenerateContent request (models/${model}) and CachedContent (${cache.model}) has to be the same.`,
    );
  if (contents.length === 0)
    throw invalidArgument("* GenerateContentRequest.contents: contents is not specified");
  const all = [...cache.contents, ...contents];
  return { blocks: promptBlocks(model, cache.head, all), cache, head: cache.head, contents: all };
}

/** Prompt usage: an explicit cache's tokens are read whole; otherwise the implicit cache may serve a prefix. */
function promptUsage(
  ns: Namespace,
  deps: SimDeps,
  model: string,
  blocks: Block[],
  cache: CachedContent | null,
): PromptUsage {
  const prompt = blocks.at(-1)?.cumulative ?? 0;
  if (cache) return { prompt, cached: cache.tokens };
  return {
    prompt,
    cached: ns.gemini.implicit(blocks, geminiMinimum(model), ns.now(), deps.opts.geminiImplicitTtlMs),
  };
}

/** `usageMetadata` as the API sends it (`cachedContentTokenCount` only when something was cached). */
export function usageMetadata(u: PromptUsage, output: number | null): JsonObject {
  return {
    promptTokenCount: u.prompt,
    ...(output !== null ? { candidatesTokenCount: output } : {}),
    totalTokenCount: u.prompt + (output ?? 0),
    ...(u.cached > 0 ? { cachedContentTokenCount: u.cached } : {}),
    promptTokensDetails: [{ modality: "TEXT", tokenCount: u.prompt }],
    ...(u.cached > 0 ? { cacheTokensDetails: [{ modality: "TEXT", tokenCount: u.cached }] } : {}),
    ...(output !== null ? { candidatesTokensDetails: [{ modality: "TEXT", tokenCount: output }] } : {}),
  };
}

function bill(ns: Namespace, u: PromptUsage, output: number): BilledUsage {
  const billed: BilledUsage = {
    uncached: u.prompt - u.cached,
    read: u.cached,
    write5m: 0,
    write1h: 0,
    output,
  };
  ns.stats.bill("gemini", billed);
  return billed;
}

/** The function `toolConfig.functionCallingConfig` forces (mode ANY), if any. */
function forcedCall(head: Head): string | undefined {
  const cfg = isObject(head.toolConfig) ? head.toolConfig.functionCallingConfig : undefined;
  if (!isObject(cfg) || cfg.mode !== "ANY") return undefined;
  const allowed = Array.isArray(cfg.allowedFunctionNames) ? cfg.allowedFunctionNames : [];
  if (typeof allowed[0] === "string") return allowed[0];
  const tools = Array.isArray(head.tools) ? head.tools.filter(isObject) : [];
  for (const t of tools) {
    const d = Array.isArray(t.functionDeclarations) ? t.functionDeclarations.find(isObject) : undefined;
    if (d && typeof d.name === "string") return d.name;
  }
  return undefined;
}

function maxOutput(body: JsonObject): number | undefined {
  const cfg = isObject(body.generationConfig) ? body.generationConfig : undefined;
  const n = cfg?.maxOutputTokens;
  return typeof n === "number" && Number.isInteger(n) && n > 0 ? n : undefined;
}

const PIECE = 24;

/** `POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent`. */
export function generate(c: Context<SimEnv>, deps: SimDeps, model: string, stream: boolean): Response {
  const ns = c.var.ns;
  const body = parseBody(c);
  const { blocks, cache, head, contents } = resolvePrompt(ns, model, body);
  const usage = promptUsage(ns, deps, model, blocks, cache);
  const users = contents.filter((x) => x.role === undefined || x.role === "user");
  const call = forcedCall(head);
  let parts: JsonObject[];
  let output: number;
  let finishReason = "STOP";
  if (call) {
    parts = [{ functionCall: { name: call, args: {} } }];
    output = textTokens(JSON.stringify({ name: call, args: {} }));
  } else {
    const full = deps.opts.reply({
      provider: "gemini",
      model,
      turn: users.length,
      lastUserText: lastUserText(contents),
    });
    const cap = maxOutput(body);
    const text = cap === undefined ? full : full.slice(0, cap * 4);
    if (text !== full) finishReason = "MAX_TOKENS";
    parts = [{ text }];
    output = textTokens(text);
  }
  c.var.record.usage = bill(ns, usage, output);
  const responseId = deps.ids.next("", 22);
  const headers = { "x-goog-request-id": c.var.requestId };
  const candidate = (p: JsonObject[], finish: string | null) => ({
    content: { parts: p, role: "model" },
    ...(finish ? { finishReason: finish } : {}),
    index: 0,
  });
  if (!stream) {
    return c.json(
      {
        candidates: [candidate(parts, finishReason)],
        usageMetadata: usageMetadata(usage, output),
        modelVersion: model,
        responseId,
      },
      200,
      headers,
    );
  }
  // SSE (`alt=sse`): every chunk carries usageMetadata; the prompt counts from the first, the candidate
  // count only on the last, which also carries the finishReason. Google separates events with CRLF.
  const chunks: JsonObject[][] = [];
  const first = parts[0] as JsonObject;
  if (typeof first.text === "string") {
    const text = first.text;
    for (let i = 0; i < text.length; i += PIECE) chunks.push([{ text: text.slice(i, i + PIECE) }]);
    if (chunks.length === 0) chunks.push([{ text: "" }]);
  } else chunks.push(parts);
  const events = chunks.map((p, i) => {
    const last = i === chunks.length - 1;
    const data = {
      candidates: [candidate(p, last ? finishReason : null)],
      usageMetadata: usageMetadata(usage, last ? output : null),
      modelVersion: model,
      responseId,
    };
    return `data: ${JSON.stringify(data)}\r\n\r\n`;
  });
  return new Response(eventStream(events, deps.opts.streamDelayMs), {
    status: 200,
    headers: { "content-type": "text/event-stream", ...headers },
  });
}

/** `POST /v1beta/models/{model}:countTokens`: `contents`, or a whole `generateContentRequest`. Bills nothing. */
export function countTokens(c: Context<SimEnv>, model: string): Response {
  const ns = c.var.ns;
  const body = parseBody(c);
  const inner = isObject(body.generateContentRequest) ? body.generateContentRequest : body;
  if (body.generateContentRequest !== undefined && body.contents !== undefined)
    throw invalidArgument("contents and generate_content_request can not both be set.");
  const { blocks, cache } = resolvePrompt(ns, bareModel(model), inner);
  const total = blocks.at(-1)?.cumulative ?? 0;
  return c.json({
    totalTokens: total,
    ...(cache ? { cachedContentTokenCount: cache.tokens } : {}),
    promptTokensDetails: [{ modality: "TEXT", tokenCount: total }],
  });
}

import { Hono } from "hono";
import { type Breakpoint, commitPromptCache, planPromptCache } from "../anthropic/cache.ts";
import { buildPrompt } from "../anthropic/prompt.ts";
import { buildReply, messageJson } from "../anthropic/reply.ts";
import { checkPrewarm, conversationFacts, parseMessagesRequest } from "../anthropic/request.ts";
import { messageEvents } from "../anthropic/stream.ts";
import type { SimDeps, SimEnv } from "../context.ts";
import { invalid, ProviderError } from "../errors.ts";
import { type JsonObject, parseJsonObject } from "../json.ts";
import { sleep } from "../sse.ts";
import type { BilledUsage } from "../stats.ts";
import { checkBedrockAuth, SIM_AWS_CREDENTIALS } from "./auth.ts";
import { converseFrames, converseJson, converseToAnthropic } from "./converse.ts";
import { eventFrame, eventStreamResponse } from "./frames.ts";
import { allowsOneHour, checkpointMinimum, claudeModel, MAX_CHECKPOINTS } from "./models.ts";

type Operation = "converse" | "converse-stream" | "invoke" | "invoke-with-response-stream";
const OPERATIONS: ReadonlySet<string> = new Set([
  "converse",
  "converse-stream",
  "invoke",
  "invoke-with-response-stream",
]);

/**
 * The checkpoints Bedrock caches at: each needs the model's minimum since the one before it
 * (sim/bedrock/models.ts); one below it is accepted and caches nothing (and so reads nothing).
 */
function checkpoints(all: Breakpoint[], cumulative: number[], minimum: number): Breakpoint[] {
  const kept: Breakpoint[] = [];
  let since = 0;
  for (const bp of all) {
    const through = cumulative[bp.position] ?? 0;
    if (through - since < minimum) continue;
    kept.push(bp);
    since = through;
  }
  return kept;
}

/** The Anthropic SSE strings of `messageEvents` as event objects (Bedrock sends no `ping`). */
function anthropicEvents(sse: string[]): JsonObject[] {
  return sse.flatMap((e) => {
    const data = /\ndata: (.*)\n/.exec(e)?.[1];
    const json = data ? (JSON.parse(data) as JsonObject) : null;
    return json && json.type !== "ping" ? [json] : [];
  });
}

function b64(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** bedrock-runtime: `POST /model/{modelId}/{converse|converse-stream|invoke|invoke-with-response-stream}`. */
export function bedrockRoutes(deps: SimDeps): Hono<SimEnv> {
  const app = new Hono<SimEnv>();
  const { opts, ids } = deps;

  app.post("/model/:modelId/:operation", async (c) => {
    const operation = c.req.param("operation");
    if (!OPERATIONS.has(operation))
      throw new ProviderError({ status: 404, message: `Not found: POST ${c.req.path}` });
    await checkBedrockAuth(c.req.raw.headers, c.req.url, c.var.body, SIM_AWS_CREDENTIALS, Date.now());
    const modelId = decodeURIComponent(c.req.param("modelId"));
    const claude = claudeModel(modelId);
    if (!claude)
      throw new ProviderError({
        status: 400,
        message: `The provided model identifier is invalid. (The simulator serves Claude models only: ${modelId.slice(0, 100)})`,
      });
    const sent = parseJsonObject(c.var.body);
    if (!sent) throw invalid("Malformed input request, please reformat your input and try again.");
    const op = operation as Operation;
    const stream = op.endsWith("-stream");
    let body: JsonObject;
    if (op === "invoke" || op === "invoke-with-response-stream") {
      // InvokeModel takes the Anthropic body with `anthropic_version` and without `model` or `stream`.
      if (sent.anthropic_version === undefined)
        throw invalid(
          "Malformed input request: #: required key [anthropic_version] not found, please reformat your input and try again.",
        );
      for (const key of ["model", "stream"])
        if (key in sent)
          throw invalid(
            `Malformed input request: #: extraneous key [${key}] is not permitted, please reformat your input and try again.`,
          );
      const { anthropic_version: _v, anthropic_beta: _b, ...rest } = sent;
      body = { ...rest, model: claude, stream };
    } else body = converseToAnthropic(sent, claude, stream);

    const req = parseMessagesRequest(body, "create");
    const prompt = buildPrompt(req);
    checkPrewarm(req);
    if (prompt.breakpoints.length > MAX_CHECKPOINTS)
      throw invalid(
        `A maximum of ${MAX_CHECKPOINTS} blocks with cache_control may be provided. Found ${prompt.breakpoints.length}.`,
      );
    if (!allowsOneHour(claude) && prompt.breakpoints.some((b) => b.ttl === "1h"))
      throw invalid(`The model ${modelId} does not support a cache TTL of 1h.`);
    const ns = c.var.ns;
    const ttlMs = { "5m": opts.ttl5mMs, "1h": opts.ttl1hMs };
    const minimum = checkpointMinimum(claude);
    const plan = planPromptCache(
      ns.bedrock,
      prompt.chain,
      checkpoints(prompt.breakpoints, prompt.chain.cumulative, minimum),
      minimum,
      ns.now(),
      ttlMs,
    );
    const cache = plan.outcome;
    const reply = buildReply(
      req,
      { provider: "anthropic", model: claude, ...conversationFacts(req) },
      opts.reply,
      () => ids.next("tooluse_", 22),
    );
    const billed: BilledUsage = {
      uncached: cache.uncached,
      read: cache.read,
      write5m: cache.write5m,
      write1h: cache.write1h,
      output: reply.outputTokens,
    };
    ns.stats.bill("bedrock", billed);
    c.var.record.usage = billed;
    const requestId = c.var.requestId;
    const headers: Record<string, string> = { "x-amzn-requestid": requestId };
    if (opts.firstTokenMs > 0) await sleep(opts.firstTokenMs);
    commitPromptCache(ns.bedrock, plan.writes, ns.now(), ttlMs);
    const latencyMs = Math.max(1, opts.firstTokenMs);

    if (op === "converse") return c.json(converseJson(reply, cache, latencyMs), 200, headers);
    if (op === "converse-stream")
      return eventStreamResponse(converseFrames(reply, cache, latencyMs), opts.streamDelayMs, headers);

    const id = ids.next("msg_bdrk_01", 22);
    if (op === "invoke") {
      const { diagnostics: _d, ...json } = messageJson(id, claude, reply, cache);
      // InvokeModel also reports the counts in headers (X-Amzn-Bedrock-Input-Token-Count and the rest).
      Object.assign(headers, {
        "x-amzn-bedrock-input-token-count": String(cache.uncached),
        "x-amzn-bedrock-output-token-count": String(reply.outputTokens),
        "x-amzn-bedrock-cache-read-input-token-count": String(cache.read),
        "x-amzn-bedrock-cache-write-input-token-count": String(cache.write5m + cache.write1h),
      });
      return c.json(json, 200, headers);
    }
    // InvokeModelWithResponseStream: each Anthropic stream event base64-encoded in a `chunk` event; the last
    // carries `amazon-bedrock-invocationMetrics`.
    const events = anthropicEvents(messageEvents(id, claude, reply, cache));
    const last = events.at(-1);
    if (last?.type === "message_stop")
      last["amazon-bedrock-invocationMetrics"] = {
        inputTokenCount: cache.uncached,
        outputTokenCount: reply.outputTokens,
        invocationLatency: latencyMs,
        firstByteLatency: latencyMs,
        cacheReadInputTokenCount: cache.read,
        cacheWriteInputTokenCount: cache.write5m + cache.write1h,
      };
    for (const e of events) if (isMessageStart(e)) delete (e.message as JsonObject).diagnostics;
    const frames = events.map((e) => eventFrame("chunk", { bytes: b64(JSON.stringify(e)) }));
    return eventStreamResponse(frames, opts.streamDelayMs, headers);
  });

  return app;
}

function isMessageStart(e: JsonObject): boolean {
  return e.type === "message_start" && typeof e.message === "object" && e.message !== null;
}

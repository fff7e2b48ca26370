import type { CacheOutcome } from "../anthropic/cache.ts";
import type { AnthropicReply } from "../anthropic/reply.ts";
import { invalid } from "../errors.ts";
import { isObject, type JsonObject } from "../json.ts";
import { eventFrame } from "./frames.ts";

/** Converse says "1 validation error detected: …" for a field that breaks a constraint. */
const constraint = (path: string, rule: string) =>
  invalid(`1 validation error detected: Value at '${path}' failed to satisfy constraint: ${rule}`);

/** The TTL of a `cachePoint` (`{type: "default", ttl?: "5m" | "1h"}`), as an Anthropic `cache_control`. */
function cacheControl(point: unknown, path: string): JsonObject {
  if (!isObject(point) || point.type !== "default")
    throw constraint(`${path}.cachePoint.type`, "Member must satisfy enum value set: [default]");
  if (point.ttl !== undefined && point.ttl !== "5m" && point.ttl !== "1h")
    throw constraint(`${path}.cachePoint.ttl`, "Member must satisfy enum value set: [5m, 1h]");
  return { type: "ephemeral", ...(point.ttl === "1h" ? { ttl: "1h" } : {}) };
}

function textOf(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/** One Converse content block as the Anthropic block the model sees. */
function block(b: JsonObject, path: string): JsonObject {
  if (typeof b.text === "string") return { type: "text", text: b.text };
  if (isObject(b.image)) {
    const source = isObject(b.image.source) ? b.image.source : {};
    return {
      type: "image",
      source: { type: "base64", media_type: `image/${textOf(b.image.format)}`, data: textOf(source.bytes) },
    };
  }
  if (isObject(b.document))
    return { type: "document", source: { type: "text", data: JSON.stringify(b.document) } };
  if (isObject(b.toolUse))
    return { type: "tool_use", id: b.toolUse.toolUseId, name: b.toolUse.name, input: b.toolUse.input ?? {} };
  if (isObject(b.toolResult)) {
    const inner = Array.isArray(b.toolResult.content) ? b.toolResult.content : [];
    return {
      type: "tool_result",
      tool_use_id: b.toolResult.toolUseId,
      content: inner.map((c) =>
        isObject(c) && typeof c.text === "string"
          ? { type: "text", text: c.text }
          : { type: "text", text: JSON.stringify(isObject(c) ? (c.json ?? c) : c) },
      ),
    };
  }
  if (isObject(b.reasoningContent)) {
    const r = isObject(b.reasoningContent.reasoningText) ? b.reasoningContent.reasoningText : {};
    return { type: "thinking", thinking: textOf(r.text), signature: textOf(r.signature) };
  }
  throw constraint(
    path,
    "Member must be a valid ContentBlock (text, image, document, toolUse, toolResult, reasoningContent, cachePoint)",
  );
}

/** A list of Converse blocks with `cachePoint`s folded into `cache_control` on the block before each. */
function blocks(list: unknown[], path: string, one: (b: JsonObject, p: string) => JsonObject): JsonObject[] {
  const out: JsonObject[] = [];
  list.forEach((b, i) => {
    if (!isObject(b)) throw constraint(`${path}.${i}`, "Member must be an object");
    if (b.cachePoint !== undefined) {
      const last = out.at(-1);
      if (!last) throw invalid(`${path}.${i}: a cachePoint must follow a content block it caches.`);
      last.cache_control = cacheControl(b.cachePoint, `${path}.${i}`);
      return;
    }
    out.push(one(b, `${path}.${i}`));
  });
  return out;
}

function tool(t: JsonObject, path: string): JsonObject {
  const spec = t.toolSpec;
  if (!isObject(spec) || typeof spec.name !== "string")
    throw constraint(`${path}.toolSpec.name`, "Member must not be null");
  const schema = isObject(spec.inputSchema) ? spec.inputSchema.json : undefined;
  return { name: spec.name, description: spec.description, input_schema: schema ?? { type: "object" } };
}

function toolChoice(v: unknown): JsonObject | undefined {
  if (!isObject(v)) return undefined;
  if (isObject(v.tool)) return { type: "tool", name: v.tool.name };
  if (v.any !== undefined) return { type: "any" };
  return { type: "auto" };
}

/** A Converse request as the Anthropic Messages body the Claude model behind it is served from. */
export function converseToAnthropic(body: JsonObject, model: string, stream: boolean): JsonObject {
  if (!Array.isArray(body.messages)) throw constraint("messages", "Member must not be null");
  const messages = body.messages.map((m, i) => {
    if (!isObject(m)) throw constraint(`messages.${i}`, "Member must be an object");
    if (m.role !== "user" && m.role !== "assistant")
      throw constraint(`messages.${i}.role`, "Member must satisfy enum value set: [user, assistant]");
    if (!Array.isArray(m.content)) throw constraint(`messages.${i}.content`, "Member must not be null");
    return { role: m.role, content: blocks(m.content, `messages.${i}.content`, block) };
  });
  const system = Array.isArray(body.system) ? blocks(body.system, "system", block) : undefined;
  const config = isObject(body.toolConfig) ? body.toolConfig : undefined;
  const tools =
    config && Array.isArray(config.tools) ? blocks(config.tools, "toolConfig.tools", tool) : undefined;
  const inference = isObject(body.inferenceConfig) ? body.inferenceConfig : {};
  const extra = isObject(body.additionalModelRequestFields) ? body.additionalModelRequestFields : {};
  return {
    model,
    max_tokens: typeof inference.maxTokens === "number" ? inference.maxTokens : 4096,
    messages,
    stream,
    ...(system ? { system } : {}),
    ...(tools ? { tools } : {}),
    ...(config ? { tool_choice: toolChoice(config.toolChoice) } : {}),
    ...(isObject(extra.thinking) ? { thinking: extra.thinking } : {}),
  };
}

/** The Converse content blocks of a reply. */
function outputBlocks(reply: AnthropicReply): JsonObject[] {
  return reply.content.map((b) =>
    b.type === "tool_use"
      ? { toolUse: { toolUseId: b.id, name: b.name, input: b.input } }
      : b.type === "thinking"
        ? { reasoningContent: { reasoningText: { text: b.thinking, signature: b.signature } } }
        : { text: b.text },
  );
}

/**
 * Converse `usage`: `inputTokens` only what was neither read from nor written to the cache, `totalTokens`
 * everything; `cacheDetails` splits the writes by TTL, 1h before 5m, and is empty without writes
 * (@aws-sdk/client-bedrock-runtime `TokenUsage`, `CacheDetail`).
 */
export function converseUsage(cache: CacheOutcome, output: number): JsonObject {
  const written = cache.write5m + cache.write1h;
  const details: JsonObject[] = [];
  if (cache.write1h > 0) details.push({ ttl: "1h", inputTokens: cache.write1h });
  if (cache.write5m > 0) details.push({ ttl: "5m", inputTokens: cache.write5m });
  return {
    inputTokens: cache.uncached,
    outputTokens: output,
    totalTokens: cache.uncached + cache.read + written + output,
    cacheReadInputTokens: cache.read,
    cacheWriteInputTokens: written,
    ...(details.length > 0 ? { cacheDetails: details } : {}),
  };
}

/** The ConverseResponse body. */
export function converseJson(reply: AnthropicReply, cache: CacheOutcome, latencyMs: number): JsonObject {
  return {
    output: { message: { role: "assistant", content: outputBlocks(reply) } },
    stopReason: reply.stopReason,
    usage: converseUsage(cache, reply.outputTokens),
    metrics: { latencyMs },
  };
}

const PIECE = 24;
function pieces(s: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += PIECE) out.push(s.slice(i, i + PIECE));
  return out.length > 0 ? out : [""];
}

/**
 * ConverseStream's events in order: messageStart, per block (contentBlockStart for a toolUse)
 * contentBlockDelta… contentBlockStop, messageStop (stopReason), metadata (usage, metrics).
 */
export function converseFrames(reply: AnthropicReply, cache: CacheOutcome, latencyMs: number): Uint8Array[] {
  const frames = [eventFrame("messageStart", { role: "assistant" })];
  reply.content.forEach((b, contentBlockIndex) => {
    const delta = (d: JsonObject) => eventFrame("contentBlockDelta", { contentBlockIndex, delta: d });
    if (b.type === "tool_use") {
      frames.push(
        eventFrame("contentBlockStart", {
          contentBlockIndex,
          start: { toolUse: { toolUseId: b.id, name: b.name } },
        }),
        ...pieces(JSON.stringify(b.input)).map((input) => delta({ toolUse: { input } })),
      );
    } else if (b.type === "thinking") {
      frames.push(
        ...pieces(textOf(b.thinking)).map((text) => delta({ reasoningContent: { text } })),
        delta({ reasoningContent: { signature: textOf(b.signature) } }),
      );
    } else frames.push(...pieces(textOf(b.text)).map((text) => delta({ text })));
    frames.push(eventFrame("contentBlockStop", { contentBlockIndex }));
  });
  frames.push(
    eventFrame("messageStop", { stopReason: reply.stopReason }),
    eventFrame("metadata", { usage: converseUsage(cache, reply.outputTokens), metrics: { latencyMs } }),
  );
  return frames;
}

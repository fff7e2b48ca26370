import type { Analysis, AnalyzeInput, ConverseMap } from "../prefix/types.ts";
import { analyzeAnthropic } from "./anthropic.ts";
import { isObj, type Json } from "./json.ts";
import { NO_RULES } from "./rules.ts";

/** A Converse `cachePoint` as the Anthropic `cache_control` it means (`ttl` "5m" by default, or "1h"). */
function cacheControl(point: unknown): Json {
  return isObj(point) && point.ttl === "1h" ? { type: "ephemeral", ttl: "1h" } : { type: "ephemeral" };
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/** One Converse content block as an Anthropic block with the same tokens and the same cacheability. */
function block(b: Json): Json {
  if (typeof b.text === "string") return { type: "text", text: b.text };
  if (isObj(b.image)) {
    const source = isObj(b.image.source) ? b.image.source : {};
    return {
      type: "image",
      source: { type: "base64", media_type: `image/${str(b.image.format)}`, data: str(source.bytes) },
    };
  }
  if (isObj(b.toolUse))
    return { type: "tool_use", id: b.toolUse.toolUseId, name: b.toolUse.name, input: b.toolUse.input ?? {} };
  if (isObj(b.toolResult)) {
    const inner = Array.isArray(b.toolResult.content) ? b.toolResult.content : [];
    return {
      type: "tool_result",
      tool_use_id: b.toolResult.toolUseId,
      content: inner.map((c) =>
        isObj(c) && typeof c.text === "string"
          ? { type: "text", text: c.text }
          : { type: "text", text: JSON.stringify(isObj(c) ? (c.json ?? c) : c) },
      ),
    };
  }
  if (isObj(b.reasoningContent)) {
    const r = isObj(b.reasoningContent.reasoningText) ? b.reasoningContent.reasoningText : {};
    return { type: "thinking", thinking: str(r.text), signature: str(r.signature) };
  }
  if (isObj(b.document))
    return { type: "document", source: { type: "text", data: JSON.stringify(b.document) } };
  // guardContent, video, citations…: hashed and counted, never marked.
  return { type: "converse_other", value: b };
}

/** Blocks of a Converse array with their indexes; a `cachePoint` becomes `cache_control` on the block before it. */
function blocks(list: unknown, one: (b: Json) => Json): { out: Json[]; at: number[] } {
  const out: Json[] = [];
  const at: number[] = [];
  if (!Array.isArray(list)) return { out, at };
  list.forEach((b, i) => {
    if (!isObj(b)) return;
    if (b.cachePoint !== undefined) {
      const last = out.at(-1);
      if (last) last.cache_control = cacheControl(b.cachePoint);
      return;
    }
    out.push(one(b));
    at.push(i);
  });
  return { out, at };
}

function tool(t: Json): Json {
  const spec = isObj(t.toolSpec) ? t.toolSpec : {};
  const schema = isObj(spec.inputSchema) ? spec.inputSchema.json : undefined;
  return { name: spec.name, description: spec.description, input_schema: schema ?? {} };
}

/** A Converse request as the Anthropic Messages body it stands for, and where each block came from. */
export function converseAsAnthropic(body: Json, model: string): { body: Json; map: ConverseMap } {
  const messages = Array.isArray(body.messages) ? body.messages.filter(isObj) : [];
  const map: ConverseMap = { tools: [], system: [], messages: [] };
  const anthropicMessages = messages.map((m) => {
    const { out, at } = blocks(m.content, block);
    map.messages.push(at);
    return { role: m.role, content: out };
  });
  const system = blocks(body.system, block);
  map.system = system.at;
  const config = isObj(body.toolConfig) ? body.toolConfig : {};
  const tools = blocks(config.tools, tool);
  map.tools = tools.at;
  const extra = isObj(body.additionalModelRequestFields) ? body.additionalModelRequestFields : {};
  return {
    body: {
      model,
      messages: anthropicMessages,
      ...(system.out.length > 0 ? { system: system.out } : {}),
      ...(tools.out.length > 0 ? { tools: tools.out } : {}),
      ...(config.toolChoice !== undefined ? { tool_choice: config.toolChoice } : {}),
      ...(extra.thinking !== undefined ? { thinking: extra.thinking } : {}),
    },
    map,
  };
}

/**
 * Canonicalizes, segments and hashes a Bedrock Converse request through the Anthropic analyzer (Claude
 * models: the same blocks, the same cache rules). The client's bytes are forwarded as sent apart from the
 * cachePoints Stoker adds, so no canonicalization rule edits the body (their edits would name Anthropic
 * paths): the chain hashes the client's own order.
 */
export function analyzeConverse(input: AnalyzeInput): Analysis {
  const { body, map } = converseAsAnthropic(input.body, input.modelId ?? "");
  const a = analyzeAnthropic({ ...input, body, rules: NO_RULES });
  return { ...a, raw: input.raw, canonical: { changed: false, applied: [], edits: [] }, converse: map };
}

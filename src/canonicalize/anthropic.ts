import { modelInfo } from "../economics/models.ts";
import { anthropicImageTokens, documentTokens, imageDimensions } from "../prefix/media.ts";
import { markerTtl } from "../prefix/segments.ts";
import type { Analysis, AnalyzeInput, CanonicalEdit } from "../prefix/types.ts";
import { adoptTools, closeHead, feedMovedText, finishAnalysis, headText, startAnalysis } from "./analysis.ts";
import { type FeedOptions, feedBlock, feedTextBlock, feedValue } from "./feed.ts";
import { canonicalCopy, isObj, type Json, keysSorted } from "./json.ts";
import { blockKey, type MessageShape } from "./shared.ts";
import { hasVolatileSpan } from "./volatile.ts";

/** Block types that take `cache_control` (thinking blocks and empty text do not). */
const CACHEABLE: ReadonlySet<string> = new Set([
  "text",
  "image",
  "document",
  "search_result",
  "tool_use",
  "tool_result",
  "server_tool_use",
  "web_search_tool_result",
  "web_fetch_tool_result",
  "code_execution_tool_result",
  "bash_code_execution_tool_result",
  "text_editor_code_execution_tool_result",
  "tool_search_tool_result",
  "container_upload",
  "mcp_tool_use",
  "mcp_tool_result",
]);

const PAYLOAD_INPUT: ReadonlySet<string> = new Set(["input"]);
const PAYLOAD_SCHEMA: ReadonlySet<string> = new Set(["input_schema"]);
const NESTED_CONTENT: ReadonlySet<string> = new Set(["content"]);

// Anthropic adds a tool-use system prompt of about this many tokens whenever tools are present.
const TOOL_PROMPT_TOKENS = 346;

function cacheable(block: Json): boolean {
  const type = block.type;
  if (typeof type !== "string" || !CACHEABLE.has(type)) return false;
  return type !== "text" || (typeof block.text === "string" && block.text.length > 0);
}

function shapeOf(content: unknown): Json[] {
  if (typeof content === "string") return [{ type: "text", text: content }];
  return Array.isArray(content) ? content.filter(isObj) : [];
}

/** Canonicalizes, segments and hashes an Anthropic Messages request. */
export function analyzeAnthropic(input: AnalyzeInput): Analysis {
  const { body, rules } = input;
  const model = typeof body.model === "string" ? body.model : "";
  const family = (input.model ?? modelInfo(model, undefined, "anthropic")).tokenizer;
  const messages = Array.isArray(body.messages) ? body.messages.filter(isObj) : [];
  const autoCache = markerTtl(body.cache_control, "5m");

  // Pre-pass: block shapes, images and which positions deserve a digest. Each message's blocks are listed
  // once, here, for the pre-pass and the feed.
  const contents = messages.map((m) => shapeOf(m.content));
  const shapes: MessageShape[] = messages.map((m, i) => {
    const blocks = contents[i] as Json[];
    let last = -1;
    const marked: number[] = [];
    blocks.forEach((b, j) => {
      if (cacheable(b)) last = j;
      if (b.cache_control != null || nestedMarkers(b) > 0) marked.push(j);
    });
    return { role: typeof m.role === "string" ? m.role : "", lastCacheable: last, marked };
  });
  const hasImages = contents.some((blocks) => blocks.some(holdsImage));

  const s = startAnalysis(input, "anthropic", model, hashParams(body), shapes);
  const { writer, segs, applied, edits, plan } = s;
  const structural: FeedOptions = { sort: true, lf: false, family };

  // Tools: their own level; any change invalidates everything after.
  const tools = Array.isArray(body.tools) ? body.tools.filter(isObj) : [];
  const canon = adoptTools(s, tools, rules, ["input_schema"], (t) => t.cache_control != null);
  const toolStructural: FeedOptions = { sort: true, lf: rules.lineEndings, family };
  const toolPayload: FeedOptions = { sort: rules.schemaKeys, lf: rules.lineEndings, family };
  canon.order.forEach((original, k) => {
    const tool = tools[original] as Json;
    const tokens =
      feedBlock(writer, tool, toolStructural, toolPayload, PAYLOAD_SCHEMA) +
      (k === 0 ? TOOL_PROMPT_TOKENS : 0);
    const last = k === canon.order.length - 1;
    segs.add("tool", { area: "tools", index: k }, "tool", tokens, true, last || tool.cache_control != null, {
      volatile: hasVolatileSpan(typeof tool.description === "string" ? tool.description : ""),
    });
    const ttl = markerTtl(tool.cache_control, "5m");
    if (ttl) segs.mark(ttl);
  });

  // System: string or text blocks; line endings and (opt-in) volatile lines handled here.
  const lastMessage = messages.length - 1;
  const moveVolatile =
    rules.volatileToTail && autoCache === null && lastMessage >= 0 && shapes[lastMessage]?.role === "user";
  const system = body.system;
  if (typeof system === "string") {
    const text = headText(s, system, ["system"], rules.lineEndings, moveVolatile);
    const tokens = feedTextBlock(writer, text, "text", family);
    segs.add("system", { area: "system", index: -1 }, "text", tokens, text.length > 0, true, {
      volatile: hasVolatileSpan(text),
    });
  } else if (Array.isArray(system)) {
    const blocks = system.filter(isObj);
    blocks.forEach((block, i) => {
      const text =
        typeof block.text === "string"
          ? headText(
              s,
              block.text,
              ["system", i, "text"],
              rules.lineEndings,
              moveVolatile && block.type === "text",
            )
          : undefined;
      const fed = text === undefined ? block : { ...block, text };
      const tokens = feedBlock(writer, fed, structural, structural, PAYLOAD_SCHEMA);
      const last = i === blocks.length - 1;
      segs.add(
        "system",
        { area: "system", index: i },
        "text",
        tokens,
        cacheable(fed),
        last || block.cache_control != null,
        {
          volatile: text !== undefined && hasVolatileSpan(text),
        },
      );
      const ttl = markerTtl(block.cache_control, "5m");
      if (ttl) segs.mark(ttl);
    });
  }
  const head = closeHead(s);

  // The messages level: tool_choice, image presence and thinking settings invalidate it (not tools/system).
  writer.tag("P");
  feedValue(
    writer,
    {
      images: hasImages,
      thinking: body.thinking,
      tool_choice: body.tool_choice,
      output_format: isObj(body.output_config) ? body.output_config.format : undefined,
      context_management: body.context_management,
    },
    structural,
  );
  segs.add("params", { area: "params", index: -1 }, "params", 0, false, true);

  const payload: FeedOptions = { sort: rules.argumentKeys, lf: false, family };
  let conversation = head.family;
  messages.forEach((message, i) => {
    const role = shapes[i]?.role ?? "";
    writer.tag("M");
    writer.str(role);
    const content = message.content;
    const blocks = typeof content === "string" ? null : (contents[i] as Json[]);
    if (blocks === null) {
      const text = content as string;
      const tokens = feedTextBlock(writer, text, "text", family) + 3;
      const at = segs.add(
        "message",
        { area: "messages", index: i, block: -1 },
        "text",
        tokens,
        text.length > 0,
        plan.has(i, 0),
        { role },
      );
      s.segmentOf.set(blockKey(i, 0), at);
    } else {
      if (blocks.length === 0) {
        segs.add("message", { area: "messages", index: i, block: -1 }, "empty", 3, false, false, { role });
      }
      blocks.forEach((block, j) => {
        const type = typeof block.type === "string" ? block.type : "";
        let tokens =
          feedBlock(writer, block, structural, payload, PAYLOAD_INPUT, NESTED_CONTENT) + (j === 0 ? 3 : 0);
        if (type === "image") tokens = imageTokens(block);
        else if (type === "document") tokens = docTokens(block, tokens);
        const at = segs.add(
          "message",
          { area: "messages", index: i, block: j },
          type,
          tokens,
          cacheable(block),
          plan.has(i, j),
          { role },
        );
        s.segmentOf.set(blockKey(i, j), at);
        const ttl = markerTtl(block.cache_control, "5m");
        if (ttl) segs.mark(ttl);
        for (let n = nestedMarkers(block); n > 0; n--) segs.mark(nestedTtl(block), true);
        if (
          rules.argumentKeys &&
          (type === "tool_use" || type === "server_tool_use") &&
          !keysSorted(block.input)
        ) {
          applied.add("argumentKeys");
          edits.push({
            path: ["messages", i, "content", j, "input"],
            value: canonicalCopy(block.input, true, false),
          });
        }
      });
    }
    if (i === 0) conversation = writer.digest();
    if (i === lastMessage && s.moved !== null) {
      feedMovedText(s, s.moved, i, role, "text", family);
      appendMovedBlock(edits, i, content, s.moved);
    }
  });

  return finishAnalysis(s, head, conversation, autoCache);
}

// Parameters that change the cache from the tools level down (fast mode, MCP servers offering tools).
function hashParams(body: Json): string {
  return JSON.stringify(canonicalCopy({ speed: body.speed, mcp_servers: body.mcp_servers }, true, false));
}

function holdsImage(block: Json): boolean {
  if (block.type === "image") return true;
  return (
    block.type === "tool_result" &&
    Array.isArray(block.content) &&
    block.content.some((b) => isObj(b) && holdsImage(b))
  );
}

function nestedMarkers(block: Json): number {
  if (block.type !== "tool_result" || !Array.isArray(block.content)) return 0;
  return block.content.filter((b) => isObj(b) && b.cache_control != null).length;
}

function nestedTtl(block: Json): "5m" | "1h" {
  const marked = (block.content as unknown[]).find((b) => isObj(b) && b.cache_control != null);
  return markerTtl(isObj(marked) ? marked.cache_control : undefined, "5m") === "1h" ? "1h" : "5m";
}

function imageTokens(block: Json): number {
  const source = isObj(block.source) ? block.source : {};
  const data = source.type === "base64" && typeof source.data === "string" ? source.data : null;
  return anthropicImageTokens(data ? imageDimensions(data) : null);
}

function docTokens(block: Json, fallback: number): number {
  const source = isObj(block.source) ? block.source : {};
  return source.type === "base64" && typeof source.data === "string"
    ? documentTokens(source.data.length)
    : fallback;
}

// The moved lines become a text block after the last user message's own blocks; edits inside that message
// are folded into the new content value.
function appendMovedBlock(edits: CanonicalEdit[], i: number, content: unknown, moved: string): void {
  const blocks: unknown[] =
    typeof content === "string" ? [{ type: "text", text: content }] : [...(content as unknown[])];
  for (let e = edits.length - 1; e >= 0; e--) {
    const path = edits[e]?.path ?? [];
    if (path[0] === "messages" && path[1] === i && path[2] === "content" && typeof path[3] === "number") {
      blocks[path[3]] = { ...(blocks[path[3]] as Json), input: edits[e]?.value };
      edits.splice(e, 1);
    }
  }
  blocks.push({ type: "text", text: moved });
  edits.push({ path: ["messages", i, "content"], value: blocks });
}

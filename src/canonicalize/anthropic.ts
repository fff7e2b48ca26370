import { modelInfo } from "../economics/models.ts";
import { anthropicImageTokens, documentTokens, imageDimensions } from "../prefix/media.ts";
import { markerTtl, type SegmentList } from "../prefix/segments.ts";
import type { Analysis, AnalyzeInput, CanonicalEdit } from "../prefix/types.ts";
import {
  adoptTools,
  closeHead,
  feedMovedText,
  finishAnalysis,
  type Head,
  headText,
  startAnalysis,
} from "./analysis.ts";
import { type FeedOptions, feedBlock, feedTextBlock, feedValue } from "./feed.ts";
import { canonicalCopy, isObj, type Json, keysSorted } from "./json.ts";
import {
  type AnalysisMemo,
  type Checkpoint,
  checkpointOf,
  findCheckpoint,
  headMemoKey,
  keepTurn,
  memoKey,
  resumeAnalysis,
  sameBlock,
  sameJson,
} from "./resume.ts";
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
  if (!Array.isArray(content)) return [];
  // The parsed array itself when every item is a block (never changed, as checkpoints rely on).
  return content.every(isObj) ? content : content.filter(isObj);
}

/** No block carries a marker (most messages): one array for all of them, never written to. */
const UNMARKED: number[] = [];
const NO_BLOCKS: Json[] = [];

/** What the pre-pass finds in one message: its blocks (a string made one text block), shape and images. */
interface MessagePrePass {
  readonly blocks: Json[];
  readonly shape: MessageShape;
  readonly image: boolean;
}

function prePass(m: Json): MessagePrePass {
  const content = m.content;
  // A string is one text block, with no marker or image: the feed reads the string itself.
  if (typeof content === "string")
    return {
      blocks: NO_BLOCKS,
      shape: { role: roleOf(m), lastCacheable: content.length > 0 ? 0 : -1, marked: UNMARKED },
      image: false,
    };
  const blocks = shapeOf(content);
  let last = -1;
  let marked = UNMARKED;
  let image = false;
  for (let j = 0; j < blocks.length; j++) {
    const b = blocks[j] as Json;
    if (cacheable(b)) last = j;
    if (b.cache_control != null || nestedMarkers(b) > 0) {
      if (marked === UNMARKED) marked = [];
      marked.push(j);
    }
    image ||= holdsImage(b);
  }
  return { blocks, shape: { role: roleOf(m), lastCacheable: last, marked }, image };
}

/**
 * Each analyzed body's messages and their pre-passes, kept while the body lives: a later turn read after it
 * (`AnalyzeInput.sharedWith`) carries its history's message objects, so only its new messages are read. One
 * entry per body, not per message (a first request at 100K tokens set 500 entries, 0.2 ms of its 1.3 ms
 * analysis in Node). Kept where the memo says bodies come back, relying as checkpoints do on parsed messages
 * never being changed.
 */
const prePasses = new WeakMap<Json, { messages: readonly Json[]; pre: readonly MessagePrePass[] }>();

/** The pre-passes of `messages`: those shared with `sharedWith`'s (the same objects) as they were found. */
function prePassesOf(messages: Json[], sharedWith: Json | undefined): MessagePrePass[] {
  const before = sharedWith ? prePasses.get(sharedWith) : undefined;
  if (!before) return messages.map(prePass);
  return messages.map((m, i) => (before.messages[i] === m ? (before.pre[i] as MessagePrePass) : prePass(m)));
}

/**
 * Canonicalizes, segments and hashes an Anthropic Messages request; with a memo, a later turn goes on from
 * the checkpoint an earlier one left.
 */
export function analyzeAnthropic(input: AnalyzeInput, memo?: AnalysisMemo): Analysis {
  const { body, rules } = input;
  const model = typeof body.model === "string" ? body.model : "";
  const family = (input.model ?? modelInfo(model, undefined, "anthropic")).tokenizer;
  const messages = Array.isArray(body.messages) ? body.messages.filter(isObj) : [];
  const autoCache = markerTtl(body.cache_control, "5m");

  // Pre-pass: block shapes, images and which positions deserve a digest. Each message's blocks are listed
  // once, here, for the pre-pass and the feed.
  const pre = prePassesOf(messages, input.sharedWith);
  if (memo?.reusesMessages?.(input.raw.length)) prePasses.set(body, { messages, pre });
  const contents = pre.map((p) => p.blocks);
  const shapes = pre.map((p) => p.shape);
  const hasImages = pre.some((p) => p.image);

  const started = startAnalysis(input, "anthropic", model, hashParams(body), shapes);
  // The messages level's inputs: tool_choice, image presence and thinking settings invalidate it (not
  // tools/system).
  const params = {
    images: hasImages,
    thinking: body.thinking,
    tool_choice: body.tool_choice,
    output_format: isObj(body.output_config) ? body.output_config.format : undefined,
    context_management: body.context_management,
  };
  // A later turn goes on from the checkpoint its conversation's last turn left, a new conversation from
  // its head's (resume.ts); volatileToTail edits the head by the last message, so its requests are always
  // fed whole. Checkpoints are kept per chain root and first message: a tenant's many conversations on one
  // system prompt do not push each other out.
  const memoOn = memo !== undefined && !rules.volatileToTail;
  const key = memoOn && messages.length > 0 ? memoKey(started.h0, family, rules, messages[0] as Json) : "";
  const headKey = memoOn ? headMemoKey(started.h0, family, rules) : "";
  const paramsJson = memoOn ? JSON.stringify(params) : "";
  const continues = (cp: Checkpoint) => continuesFrom(cp, body, paramsJson, messages, contents);
  const from = memo && headKey ? findCheckpoint(memo, key, headKey, continues) : undefined;
  const resumed = from ? resumeAnalysis(started, from, from.head.breakpoints) : null;
  const s = resumed ?? started;
  const { writer, segs, applied, edits, plan } = s;
  const structural: FeedOptions = { sort: true, lf: false, family };
  const lastMessage = messages.length - 1;

  let head: Head = { headEnd: -1, family: "", breakpoints: 0 };
  let conversation = "";
  let first = 0;
  // The state through message n, to go on from (everything copied that feeding more would change).
  const checkpoint = (n: number): Checkpoint =>
    checkpointOf(s, {
      system: body.system,
      tools: body.tools,
      params: paramsJson,
      messages: n === messages.length ? messages : messages.slice(0, n),
      head,
      conversation,
    });

  if (resumed && from) {
    head = from.head;
    conversation = from.conversation;
    first = from.messages.length;
    // The resumed messages' own markers, as this request carries them.
    for (let i = 0; i < first; i++) {
      if (typeof messages[i]?.content === "string") continue;
      for (const j of (shapes[i] as MessageShape).marked) {
        const at = s.segmentOf.get(blockKey(i, j));
        if (at !== undefined) markBlock(segs, (contents[i] as Json[])[j] as Json, at);
      }
    }
  } else {
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
      segs.add(
        "tool",
        { area: "tools", index: k },
        "tool",
        tokens,
        true,
        last || tool.cache_control != null,
        {
          volatile: hasVolatileSpan(typeof tool.description === "string" ? tool.description : ""),
        },
      );
      const ttl = markerTtl(tool.cache_control, "5m");
      if (ttl) segs.mark(ttl);
    });

    // System: string or text blocks; line endings and (opt-in) volatile lines handled here.
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
    head = closeHead(s);

    writer.tag("P");
    feedValue(writer, params, structural);
    segs.add("params", { area: "params", index: -1 }, "params", 0, false, true);

    conversation = head.family;
    if (memo && headKey) memo.keep(headKey, [checkpoint(0)], null);
  }

  let beforeLast: Checkpoint | null = null;
  // A conversation the isolate never analyzed: nothing after its key is hashed now (AnalyzeInput.deferMessages).
  const deferring = input.deferMessages === true && key !== "" && first === 0 && lastMessage > 0;

  const payload: FeedOptions = { sort: rules.argumentKeys, lf: false, family };
  for (let i = first; i < messages.length; i++) {
    // (Gone on from exactly there, the checkpoint is the one it went on from.)
    if (key && !deferring && i === lastMessage && i > 0 && !(resumed && i === first))
      beforeLast = checkpoint(i);
    const message = messages[i] as Json;
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
        markBlock(segs, block, at);
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
    if (i === 0) {
      conversation = writer.digest();
      if (deferring) writer.defer();
    }
    if (i === lastMessage && s.moved !== null) {
      feedMovedText(s, s.moved, i, role, "text", family);
      appendMovedBlock(edits, i, content, s.moved);
    }
  }

  if (deferring) return { ...finishAnalysis(s, head, conversation, autoCache), deferred: true };
  if (memo && key && s.moved === null) {
    keepTurn(memo, key, checkpoint(messages.length), beforeLast, from, 0);
  }
  return finishAnalysis(s, head, conversation, autoCache);
}

/** A block's own marker and those nested in it (a tool_result's content), on segment `at`. */
function markBlock(segs: SegmentList, block: Json, at: number): void {
  const ttl = markerTtl(block.cache_control, "5m");
  if (ttl) segs.mark(ttl, false, at);
  for (let n = nestedMarkers(block); n > 0; n--) segs.mark(nestedTtl(block), true, at);
}

/** Whether this request feeds the chain as `cp`'s did through `cp`'s last message (markers aside). */
function continuesFrom(
  cp: Checkpoint,
  body: Json,
  params: string,
  messages: readonly Json[],
  contents: readonly Json[][],
): boolean {
  const n = cp.messages.length;
  if (n > messages.length || cp.params !== params) return false;
  if (!sameJson(cp.system, body.system) || !sameJson(cp.tools, body.tools)) return false;
  // Latest first: a history that differs, differs mostly at its end.
  for (let i = n - 1; i >= 0; i--) {
    const before = cp.messages[i] as Json;
    const now = messages[i] as Json;
    // The same object when the body was parsed after the one this checkpoint came from (body-memo.ts).
    if (before === now) continue;
    if (roleOf(before) !== roleOf(now)) return false;
    const a = before.content;
    const b = now.content;
    if (typeof a === "string" || typeof b === "string") {
      if (a !== b) return false;
      continue;
    }
    const was = shapeOf(a);
    const is = contents[i] as Json[];
    if (was.length !== is.length) return false;
    for (let j = 0; j < was.length; j++)
      if (!sameBlock(was[j] as Json, is[j] as Json, NESTED_CONTENT)) return false;
  }
  return true;
}

function roleOf(m: Json): string {
  return typeof m.role === "string" ? m.role : "";
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

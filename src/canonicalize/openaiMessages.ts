import { modelInfo, type TokenizerFamily } from "../economics/models.ts";
import type { Analysis, AnalyzeInput, OpenAIClientCache } from "../prefix/types.ts";
import {
  type AnalysisState,
  adoptTools,
  closeHead,
  finishAnalysis,
  type Head,
  headText,
  startAnalysis,
} from "./analysis.ts";
import { type FeedOptions, feedTextBlock } from "./feed.ts";
import { canonicalCopy, isObj, type Json, keysSorted, lf } from "./json.ts";
import { feedPart, MARKABLE_ROLES, markablePart } from "./openaiParts.ts";
import type { CanonicalizeRules } from "./rules.ts";
import { at, blockKey, feedAlong, type MessageShape } from "./shared.ts";
import { hasVolatileSpan } from "./volatile.ts";

// The message feeding Chat Completions and Responses have in common: Chat's messages and Responses' input
// messages differ only in where their edits go, their text part type and what else an item can be.

const HEAD_ROLES: ReadonlySet<string> = new Set(["system", "developer"]);
// Each message costs a few tokens of role and separators.
export const MESSAGE_OVERHEAD = 4;

/** The OpenAI analyzers' state: the shared one plus what the message feeders read. */
export interface OpenAIState extends AnalysisState {
  readonly rules: CanonicalizeRules;
  readonly tokenizer: TokenizerFamily;
  /** Block-level options: keys sorted, strings as sent. */
  readonly structural: FeedOptions;
  readonly shapes: readonly MessageShape[];
  /** Where message edits go: body.messages (Chat) or body.input (Responses). */
  readonly area: "messages" | "input";
  readonly moveVolatile: boolean;
}

/** Starts an OpenAI analysis: the chain (h0 has no extra params) and the feeders' settings. */
export function startOpenAI(
  input: AnalyzeInput,
  upstream: "openai-chat" | "openai-responses",
  area: OpenAIState["area"],
  shapes: readonly MessageShape[],
  moveVolatile: boolean,
): OpenAIState {
  const model = typeof input.body.model === "string" ? input.body.model : "";
  const family = (input.model ?? modelInfo(model, undefined, "openai")).tokenizer;
  return {
    ...startAnalysis(input, upstream, model, "", shapes),
    rules: input.rules,
    tokenizer: family,
    structural: { sort: true, lf: false, family },
    shapes,
    area,
    moveVolatile,
  };
}

/** How many leading messages are system/developer: the head. */
export function headCount(roles: readonly string[]): number {
  let n = 0;
  while (n < roles.length && HEAD_ROLES.has(roles[n] as string)) n++;
  return n;
}

/** Indices of the content parts that carry the client's own `prompt_cache_breakpoint`. */
export function markedParts(content: unknown): number[] {
  return Array.isArray(content)
    ? content.flatMap((p, j) => (isObj(p) && p.prompt_cache_breakpoint != null ? [j] : []))
    : [];
}

/** Canonical tools, one segment each; `schemaPath` leads to a tool's JSON schema. */
export function feedTools(s: OpenAIState, bodyTools: unknown, schemaPath: readonly string[]): void {
  const { rules, tokenizer: family } = s;
  const tools = Array.isArray(bodyTools) ? bodyTools.filter(isObj) : [];
  const canon = adoptTools(s, tools, rules, schemaPath, () => false);
  const toolStructural: FeedOptions = { sort: true, lf: rules.lineEndings, family };
  const toolPayload: FeedOptions = { sort: rules.schemaKeys, lf: rules.lineEndings, family };
  canon.order.forEach((original, k) => {
    const tokens = feedAlong(s.writer, tools[original] as Json, schemaPath, toolStructural, toolPayload);
    s.segs.add("tool", { area: "tools", index: k }, "tool", tokens, false, k === canon.order.length - 1);
  });
}

/**
 * Feeds message `i`'s content, a string or parts (head text under lineEndings and volatileToTail); `where`
 * is its loc index. Returns how many segments it added.
 */
export function feedContent(
  s: OpenAIState,
  content: unknown,
  i: number,
  where: number,
  head: boolean,
  role: string,
  textType: string,
): number {
  const { writer, segs, rules, tokenizer: family } = s;
  const kind = head ? "system" : "message";
  if (typeof content === "string") {
    const text = head
      ? headText(s, content, [s.area, i, "content"], rules.lineEndings, s.moveVolatile)
      : content;
    const tokens = feedTextBlock(writer, text, textType, family) + MESSAGE_OVERHEAD;
    const seg = segs.add(
      kind,
      { area: "messages", index: where, block: -1 },
      textType,
      tokens,
      s.shapes[i]?.lastCacheable === 0,
      head || s.plan.has(i, 0),
      {
        role,
        volatile: head && hasVolatileSpan(text),
      },
    );
    s.segmentOf.set(blockKey(i, 0), seg);
    return 1;
  }
  if (!Array.isArray(content)) return 0;
  let count = 0;
  content.forEach((part, j) => {
    if (!isObj(part)) return;
    let fed = part;
    if (head && typeof part.text === "string") {
      const text = rules.lineEndings ? lf(part.text) : part.text;
      if (text !== part.text) {
        s.applied.add("lineEndings");
        s.edits.push({ path: [s.area, i, "content", j, "text"], value: text });
        fed = { ...part, text };
      }
    }
    const tokens = feedPart(writer, fed, s.structural, family) + (j === 0 ? MESSAGE_OVERHEAD : 0);
    const markable = MARKABLE_ROLES.has(role) && markablePart(fed);
    const seg = segs.add(
      kind,
      { area: "messages", index: where, block: j },
      String(part.type ?? ""),
      tokens,
      markable,
      head || s.plan.has(i, j),
      {
        role,
        volatile: head && typeof fed.text === "string" && hasVolatileSpan(fed.text),
      },
    );
    s.segmentOf.set(blockKey(i, j), seg);
    if (part.prompt_cache_breakpoint != null) segs.mark("30m");
    count++;
  });
  return count;
}

/** The segment of a message with nothing to feed. */
export function addEmpty(s: OpenAIState, head: boolean, where: number, role: string): void {
  s.segs.add(
    head ? "system" : "message",
    { area: "messages", index: where, block: -1 },
    "empty",
    MESSAGE_OVERHEAD,
    false,
    false,
    { role },
  );
}

/** The body's values at `keys`, where set. */
export function pickParams(body: Json, keys: readonly string[]): Json {
  const params: Json = {};
  for (const key of keys) {
    if (body[key] !== undefined) params[key] = body[key];
  }
  return params;
}

/**
 * Feeds messages `0..count-1` and returns the Analysis: the head messages (the first `headN`), the params
 * level (`params`, with the structured-output schema at `schemaPath` sorted under schemaKeys), the rest.
 */
export function feedConversation(
  s: OpenAIState,
  body: Json,
  params: Json,
  schemaPath: readonly string[],
  count: number,
  headN: number,
  feedMessage: (i: number, head: boolean) => void,
): Analysis {
  const head = feedHead(s, params, schemaPath, headN, feedMessage);
  let conversation = head.family;
  for (let i = headN; i < count; i++) {
    feedMessage(i, false);
    if (i === headN) conversation = s.writer.digest();
  }
  return finishAnalysis(s, head, conversation, null, clientCache(body));
}

/** Feeds the head messages (the first `headN`) and the params level; returns the head. */
export function feedHead(
  s: OpenAIState,
  params: Json,
  schemaPath: readonly string[],
  headN: number,
  feedMessage: (i: number, head: boolean) => void,
): Head {
  for (let i = 0; i < headN; i++) feedMessage(i, true);
  const head = closeHead(s);

  // Structured-output schema, tool choice and reasoning settings shape the rendered prompt after the head.
  s.writer.tag("P");
  const schema = at(params, schemaPath);
  if (s.rules.schemaKeys && schema !== undefined && !keysSorted(schema)) {
    s.applied.add("schemaKeys");
    s.edits.push({ path: [...schemaPath], value: canonicalCopy(schema, true, false) });
  }
  feedAlong(s.writer, params, schemaPath, s.structural, { ...s.structural, sort: s.rules.schemaKeys });
  s.segs.add("params", { area: "params", index: -1 }, "params", 0, false, true);
  return head;
}

/** The client's own OpenAI cache settings, which Stoker respects. */
export function clientCache(body: Json): OpenAIClientCache {
  const out: OpenAIClientCache = {};
  if (typeof body.prompt_cache_key === "string") out.promptCacheKey = body.prompt_cache_key;
  if (typeof body.prompt_cache_retention === "string") out.retention = body.prompt_cache_retention;
  if (isObj(body.prompt_cache_options)) {
    const o = body.prompt_cache_options;
    out.options = {};
    if (typeof o.mode === "string") out.options.mode = o.mode;
    if (typeof o.ttl === "string") out.options.ttl = o.ttl;
  }
  return out;
}

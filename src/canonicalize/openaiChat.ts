import { modelInfo } from "../economics/models.ts";
import { ChainWriter, chainRoot } from "../prefix/chain.ts";
import { SegmentList } from "../prefix/segments.ts";
import type { Analysis, AnalyzeInput, CanonicalEdit } from "../prefix/types.ts";
import { type FeedOptions, feedTextBlock, feedValue } from "./feed.ts";
import { canonicalCopy, isObj, type Json, keysSorted, lf } from "./json.ts";
import { canonicalArguments, feedPart, lastMarkable, MARKABLE_ROLES, markablePart } from "./openaiParts.ts";
import type { RuleName } from "./rules.ts";
import {
  blockKey,
  canonicalTools,
  digestPlan,
  feedAlong,
  type MessageShape,
  RECENT_MESSAGE_DIGESTS,
} from "./shared.ts";
import { hasVolatileSpan, splitVolatileLines } from "./volatile.ts";

const HEAD_ROLES: ReadonlySet<string> = new Set(["system", "developer"]);
// Each message costs a few tokens of role and separators.
const MESSAGE_OVERHEAD = 4;

/** Canonicalizes, segments and hashes an OpenAI Chat Completions request. */
export function analyzeOpenAIChat(input: AnalyzeInput): Analysis {
  const { body, rules } = input;
  const model = typeof body.model === "string" ? body.model : "";
  const family = modelInfo(model, undefined, "openai").tokenizer;
  const applied = new Set<RuleName>();
  const edits: CanonicalEdit[] = [];
  const messages = Array.isArray(body.messages) ? body.messages.filter(isObj) : [];
  const roles = messages.map((m) => (typeof m.role === "string" ? m.role : ""));
  let headCount = 0;
  while (headCount < messages.length && HEAD_ROLES.has(roles[headCount] as string)) headCount++;

  const shapes: MessageShape[] = messages.map((m, i) => ({
    role: roles[i] as string,
    lastCacheable: lastMarkable(roles[i] as string, m.content),
    marked: Array.isArray(m.content)
      ? m.content.flatMap((p, j) => (isObj(p) && p.prompt_cache_breakpoint != null ? [j] : []))
      : [],
  }));
  const plan = digestPlan(shapes, RECENT_MESSAGE_DIGESTS);

  const h0 = chainRoot(input.salt, "openai-chat", model, "");
  const writer = new ChainWriter(h0);
  const segs = new SegmentList(writer);
  const structural: FeedOptions = { sort: true, lf: false, family };

  const tools = Array.isArray(body.tools) ? body.tools.filter(isObj) : [];
  const canon = canonicalTools(tools, rules, ["function", "parameters"], () => false);
  for (const r of canon.applied) applied.add(r);
  if (canon.value) edits.push({ path: ["tools"], value: canon.value });
  const toolStructural: FeedOptions = { sort: true, lf: rules.lineEndings, family };
  const toolPayload: FeedOptions = { sort: rules.schemaKeys, lf: rules.lineEndings, family };
  canon.order.forEach((original, k) => {
    const tokens = feedAlong(
      writer,
      tools[original] as Json,
      ["function", "parameters"],
      toolStructural,
      toolPayload,
    );
    segs.add("tool", { area: "tools", index: k }, "tool", tokens, false, k === canon.order.length - 1);
  });

  const last = messages.length - 1;
  const moveVolatile = rules.volatileToTail && last >= headCount && roles[last] === "user";
  let moved: string | null = null;
  const segmentOf = new Map<number, number>();

  const feedMessage = (m: Json, i: number, head: boolean): void => {
    const role = roles[i] as string;
    writer.tag("M");
    writer.str(role);
    for (const key of ["name", "tool_call_id", "refusal", "audio", "function_call"]) {
      if (m[key] !== undefined && m[key] !== null) {
        writer.str(key);
        feedValue(writer, m[key], structural);
      }
    }
    const kind = head ? "system" : "message";
    const content = m.content;
    let count = 0;
    if (typeof content === "string") {
      let text = head && rules.lineEndings ? lf(content) : content;
      if (text !== content) applied.add("lineEndings");
      const split = head && moveVolatile && moved === null ? splitVolatileLines(text) : null;
      if (split) {
        text = split.kept;
        moved = split.moved;
      }
      if (text !== content) edits.push({ path: ["messages", i, "content"], value: text });
      const tokens = feedTextBlock(writer, text, "text", family) + MESSAGE_OVERHEAD;
      const at = segs.add(
        kind,
        { area: "messages", index: i, block: -1 },
        "text",
        tokens,
        shapes[i]?.lastCacheable === 0,
        head || plan.has(i, 0),
        {
          role,
          volatile: head && hasVolatileSpan(text),
        },
      );
      segmentOf.set(blockKey(i, 0), at);
      count++;
    } else if (Array.isArray(content)) {
      content.forEach((part, j) => {
        if (!isObj(part)) return;
        let fed = part;
        if (head && typeof part.text === "string") {
          const text = rules.lineEndings ? lf(part.text) : part.text;
          if (text !== part.text) {
            applied.add("lineEndings");
            edits.push({ path: ["messages", i, "content", j, "text"], value: text });
            fed = { ...part, text };
          }
        }
        const tokens = feedPart(writer, fed, structural, family) + (j === 0 ? MESSAGE_OVERHEAD : 0);
        const markable = MARKABLE_ROLES.has(role) && markablePart(fed);
        const at = segs.add(
          kind,
          { area: "messages", index: i, block: j },
          String(part.type ?? ""),
          tokens,
          markable,
          head || plan.has(i, j),
          {
            role,
            volatile: head && typeof fed.text === "string" && hasVolatileSpan(fed.text),
          },
        );
        segmentOf.set(blockKey(i, j), at);
        if (part.prompt_cache_breakpoint != null) segs.mark("30m");
        count++;
      });
    }
    const calls = Array.isArray(m.tool_calls) ? m.tool_calls : [];
    calls.forEach((call, k) => {
      if (!isObj(call)) return;
      let fed = call;
      const fn = call.function;
      if (rules.argumentKeys && isObj(fn) && typeof fn.arguments === "string") {
        const args = canonicalArguments(fn.arguments);
        if (args !== fn.arguments) {
          applied.add("argumentKeys");
          edits.push({ path: ["messages", i, "tool_calls", k, "function", "arguments"], value: args });
          fed = { ...call, function: { ...fn, arguments: args } };
        }
      }
      const tokens = feedValue(writer, fed, structural) + 3;
      segs.add(kind, { area: "messages", index: i, toolCall: k }, "tool_call", tokens, false, false, {
        role,
      });
      count++;
    });
    if (count === 0)
      segs.add(kind, { area: "messages", index: i, block: -1 }, "empty", MESSAGE_OVERHEAD, false, false, {
        role,
      });
    if (i === last && moved !== null) {
      const tokens = feedTextBlock(writer, moved, "text", family);
      segs.add("message", { area: "messages", index: i, inserted: true }, "text", tokens, false, false, {
        role,
      });
      appendMovedPart(edits, i, content, moved);
    }
  };

  for (let i = 0; i < headCount; i++) feedMessage(messages[i] as Json, i, true);
  if (moved !== null) applied.add("volatileToTail");
  const headEnd = segs.list.length - 1;
  const familyHash = headEnd >= 0 ? (segs.list[headEnd]?.hash ?? writer.digest()) : writer.digest();

  // Structured-output schema, tool choice and reasoning settings shape the rendered prompt after the head.
  writer.tag("P");
  const format = body.response_format;
  const schema = isObj(format) && isObj(format.json_schema) ? format.json_schema.schema : undefined;
  if (rules.schemaKeys && schema !== undefined && !keysSorted(schema)) {
    applied.add("schemaKeys");
    edits.push({
      path: ["response_format", "json_schema", "schema"],
      value: canonicalCopy(schema, true, false),
    });
  }
  const params: Json = {};
  for (const key of [
    "response_format",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning_effort",
    "verbosity",
    "modalities",
    "audio",
    "web_search_options",
    "functions",
    "function_call",
  ]) {
    if (body[key] !== undefined) params[key] = body[key];
  }
  feedAlong(writer, params, ["response_format", "json_schema", "schema"], structural, {
    ...structural,
    sort: rules.schemaKeys,
  });
  segs.add("params", { area: "params", index: -1 }, "params", 0, false, true);

  let conversation = familyHash;
  for (let i = headCount; i < messages.length; i++) {
    feedMessage(messages[i] as Json, i, false);
    if (i === headCount) conversation = writer.digest();
  }

  const previous = plan.previousTurnEnd;
  return {
    upstream: "openai-chat",
    model,
    raw: input.raw,
    h0,
    family: familyHash,
    conversation,
    headEnd,
    segments: segs.list,
    candidates: segs.candidates(),
    clientBreakpoints: segs.clientBreakpoints,
    autoCache: null,
    openai: clientCache(body),
    canonical: { changed: edits.length > 0, applied: [...applied], edits },
    totalTokens: segs.totalTokens,
    continues: plan.continues,
    previousTurnEnd: segmentOf.get(previous) ?? -1,
  };
}

/** The client's own OpenAI cache settings, which Stoker respects. */
export function clientCache(body: Json): NonNullable<Analysis["openai"]> {
  const out: NonNullable<Analysis["openai"]> = {};
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

function appendMovedPart(edits: CanonicalEdit[], i: number, content: unknown, moved: string): void {
  const parts: unknown[] =
    typeof content === "string"
      ? [{ type: "text", text: content }]
      : Array.isArray(content)
        ? [...content]
        : [];
  parts.push({ type: "text", text: moved });
  edits.push({ path: ["messages", i, "content"], value: parts });
}

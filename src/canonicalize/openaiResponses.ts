import { modelInfo } from "../economics/models.ts";
import { ChainWriter, chainRoot } from "../prefix/chain.ts";
import { SegmentList } from "../prefix/segments.ts";
import type { Analysis, AnalyzeInput, CanonicalEdit } from "../prefix/types.ts";
import { type FeedOptions, feedBlock, feedTextBlock, NO_KEYS } from "./feed.ts";
import { canonicalCopy, isObj, type Json, keysSorted, lf } from "./json.ts";
import { clientCache } from "./openaiChat.ts";
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
const MESSAGE_OVERHEAD = 4;

function isMessage(item: Json): boolean {
  return typeof item.role === "string" && (item.type === undefined || item.type === "message");
}

/**
 * Canonicalizes, segments and hashes an OpenAI Responses request. `instructions` and leading
 * system/developer input messages are the head; a string `input` is one user message (loc index -1).
 */
export function analyzeOpenAIResponses(input: AnalyzeInput): Analysis {
  const { body, rules } = input;
  const model = typeof body.model === "string" ? body.model : "";
  const family = modelInfo(model, undefined, "openai").tokenizer;
  const applied = new Set<RuleName>();
  const edits: CanonicalEdit[] = [];
  const stringInput = typeof body.input === "string";
  const items: Json[] = stringInput
    ? [{ role: "user", content: body.input }]
    : Array.isArray(body.input)
      ? body.input.filter(isObj)
      : [];
  const roles = items.map((it) => (isMessage(it) ? (it.role as string) : ""));
  let headCount = 0;
  while (headCount < items.length && HEAD_ROLES.has(roles[headCount] as string)) headCount++;

  const shapes: MessageShape[] = items.map((it, i) => ({
    // Function calls are the assistant's turn for the previous-turn guess.
    role: isMessage(it) ? (roles[i] as string) : it.type === "function_call" ? "assistant" : "",
    lastCacheable: isMessage(it) ? lastMarkable(roles[i] as string, it.content) : -1,
    marked: Array.isArray(it.content)
      ? it.content.flatMap((p, j) => (isObj(p) && p.prompt_cache_breakpoint != null ? [j] : []))
      : [],
  }));
  const plan = digestPlan(shapes, RECENT_MESSAGE_DIGESTS);

  const h0 = chainRoot(input.salt, "openai-responses", model, "");
  const writer = new ChainWriter(h0);
  const segs = new SegmentList(writer);
  const structural: FeedOptions = { sort: true, lf: false, family };

  const tools = Array.isArray(body.tools) ? body.tools.filter(isObj) : [];
  const canon = canonicalTools(tools, rules, ["parameters"], () => false);
  for (const r of canon.applied) applied.add(r);
  if (canon.value) edits.push({ path: ["tools"], value: canon.value });
  const toolStructural: FeedOptions = { sort: true, lf: rules.lineEndings, family };
  const toolPayload: FeedOptions = { sort: rules.schemaKeys, lf: rules.lineEndings, family };
  canon.order.forEach((original, k) => {
    const tokens = feedAlong(writer, tools[original] as Json, ["parameters"], toolStructural, toolPayload);
    segs.add("tool", { area: "tools", index: k }, "tool", tokens, false, k === canon.order.length - 1);
  });

  const last = items.length - 1;
  const moveVolatile = rules.volatileToTail && !stringInput && last >= headCount && roles[last] === "user";
  let moved: string | null = null;
  if (typeof body.instructions === "string") {
    let text = rules.lineEndings ? lf(body.instructions) : body.instructions;
    if (text !== body.instructions) applied.add("lineEndings");
    const split = moveVolatile ? splitVolatileLines(text) : null;
    if (split) {
      text = split.kept;
      moved = split.moved;
    }
    if (text !== body.instructions) edits.push({ path: ["instructions"], value: text });
    writer.tag("I");
    const tokens = feedTextBlock(writer, text, "input_text", family) + MESSAGE_OVERHEAD;
    segs.add("system", { area: "system", index: -1 }, "instructions", tokens, false, true, {
      volatile: hasVolatileSpan(text),
    });
  }

  const segmentOf = new Map<number, number>();
  const feedItem = (item: Json, i: number, head: boolean): void => {
    const kind = head ? "system" : "message";
    const where = stringInput ? -1 : i;
    if (!isMessage(item)) {
      let fed = item;
      if (rules.argumentKeys && typeof item.arguments === "string") {
        const args = canonicalArguments(item.arguments);
        if (args !== item.arguments) {
          applied.add("argumentKeys");
          edits.push({ path: ["input", i, "arguments"], value: args });
          fed = { ...item, arguments: args };
        }
      }
      writer.tag("X");
      const tokens = feedBlock(writer, fed, structural, structural, NO_KEYS) + 3;
      segs.add(
        kind,
        { area: "messages", index: where, block: -2 },
        String(item.type ?? "item"),
        tokens,
        false,
        false,
      );
      return;
    }
    const role = roles[i] as string;
    writer.tag("M");
    writer.str(role);
    const textType = role === "assistant" ? "output_text" : "input_text";
    const content = item.content;
    if (typeof content === "string") {
      let text = head && rules.lineEndings ? lf(content) : content;
      if (text !== content) applied.add("lineEndings");
      const split = head && moveVolatile && moved === null ? splitVolatileLines(text) : null;
      if (split) {
        text = split.kept;
        moved = split.moved;
      }
      if (text !== content) edits.push({ path: ["input", i, "content"], value: text });
      const tokens = feedTextBlock(writer, text, textType, family) + MESSAGE_OVERHEAD;
      const at = segs.add(
        kind,
        { area: "messages", index: where, block: -1 },
        textType,
        tokens,
        shapes[i]?.lastCacheable === 0,
        head || plan.has(i, 0),
        {
          role,
          volatile: head && hasVolatileSpan(text),
        },
      );
      segmentOf.set(blockKey(i, 0), at);
    } else if (Array.isArray(content)) {
      content.forEach((part, j) => {
        if (!isObj(part)) return;
        let fed = part;
        if (head && typeof part.text === "string" && rules.lineEndings && part.text.includes("\r\n")) {
          applied.add("lineEndings");
          fed = { ...part, text: lf(part.text) };
          edits.push({ path: ["input", i, "content", j, "text"], value: fed.text });
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
      });
      if (content.length === 0)
        segs.add(kind, { area: "messages", index: i, block: -1 }, "empty", MESSAGE_OVERHEAD, false, false, {
          role,
        });
    } else
      segs.add(kind, { area: "messages", index: where, block: -1 }, "empty", MESSAGE_OVERHEAD, false, false, {
        role,
      });
    if (i === last && moved !== null) {
      const tokens = feedTextBlock(writer, moved, "input_text", family);
      segs.add(
        "message",
        { area: "messages", index: i, inserted: true },
        "input_text",
        tokens,
        false,
        false,
        { role },
      );
      const parts: unknown[] =
        typeof content === "string" ? [{ type: "input_text", text: content }] : [...(content as unknown[])];
      parts.push({ type: "input_text", text: moved });
      edits.push({ path: ["input", i, "content"], value: parts });
    }
  };

  for (let i = 0; i < headCount; i++) feedItem(items[i] as Json, i, true);
  if (moved !== null) applied.add("volatileToTail");
  const headEnd = segs.list.length - 1;
  const familyHash = headEnd >= 0 ? (segs.list[headEnd]?.hash ?? writer.digest()) : writer.digest();

  writer.tag("P");
  const text = body.text;
  const schema = isObj(text) && isObj(text.format) ? text.format.schema : undefined;
  if (rules.schemaKeys && schema !== undefined && !keysSorted(schema)) {
    applied.add("schemaKeys");
    edits.push({ path: ["text", "format", "schema"], value: canonicalCopy(schema, true, false) });
  }
  const params: Json = {};
  for (const key of [
    "text",
    "tool_choice",
    "parallel_tool_calls",
    "previous_response_id",
    "conversation",
    "prompt",
    "truncation",
  ]) {
    if (body[key] !== undefined) params[key] = body[key];
  }
  if (isObj(body.reasoning) && body.reasoning.effort !== undefined)
    params.reasoning_effort = body.reasoning.effort;
  feedAlong(writer, params, ["text", "format", "schema"], structural, {
    ...structural,
    sort: rules.schemaKeys,
  });
  segs.add("params", { area: "params", index: -1 }, "params", 0, false, true);

  let conversation = familyHash;
  for (let i = headCount; i < items.length; i++) {
    feedItem(items[i] as Json, i, false);
    if (i === headCount) conversation = writer.digest();
  }

  const previous = plan.previousTurnEnd;
  return {
    upstream: "openai-responses",
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

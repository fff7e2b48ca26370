import type { Analysis, AnalyzeInput } from "../prefix/types.ts";
import { feedMovedText, headText } from "./analysis.ts";
import { feedBlock, feedTextBlock, NO_KEYS } from "./feed.ts";
import { isObj, type Json } from "./json.ts";
import {
  addEmpty,
  feedContent,
  feedConversation,
  feedTools,
  headCount,
  MESSAGE_OVERHEAD,
  markedParts,
  type OpenAIState,
  pickParams,
  startOpenAI,
} from "./openaiMessages.ts";
import { canonicalArguments, lastMarkable } from "./openaiParts.ts";
import type { MessageShape } from "./shared.ts";
import { hasVolatileSpan } from "./volatile.ts";

const SCHEMA_PATH = ["parameters"];
const FORMAT_SCHEMA_PATH = ["text", "format", "schema"];
const PARAM_KEYS = [
  "text",
  "tool_choice",
  "parallel_tool_calls",
  "previous_response_id",
  "conversation",
  "prompt",
  "truncation",
];

function isMessage(item: Json): boolean {
  return typeof item.role === "string" && (item.type === undefined || item.type === "message");
}

/**
 * Canonicalizes, segments and hashes an OpenAI Responses request. `instructions` and leading
 * system/developer input messages are the head; a string `input` is one user message (loc index -1).
 */
export function analyzeOpenAIResponses(input: AnalyzeInput): Analysis {
  const { body, rules } = input;
  const stringInput = typeof body.input === "string";
  const items: Json[] = stringInput
    ? [{ role: "user", content: body.input }]
    : Array.isArray(body.input)
      ? body.input.filter(isObj)
      : [];
  const roles = items.map((it) => (isMessage(it) ? (it.role as string) : ""));
  const headN = headCount(roles);

  const shapes: MessageShape[] = items.map((it, i) => ({
    // Function calls are the assistant's turn for the previous-turn guess.
    role: isMessage(it) ? (roles[i] as string) : it.type === "function_call" ? "assistant" : "",
    lastCacheable: isMessage(it) ? lastMarkable(roles[i] as string, it.content) : -1,
    marked: markedParts(it.content),
  }));
  const last = items.length - 1;
  const moveVolatile = rules.volatileToTail && !stringInput && last >= headN && roles[last] === "user";
  const s = startOpenAI(input, "openai-responses", "input", shapes, moveVolatile);
  const { writer, segs, tokenizer: family } = s;

  feedTools(s, body.tools, SCHEMA_PATH);

  if (typeof body.instructions === "string") {
    const text = headText(s, body.instructions, ["instructions"], rules.lineEndings, s.moveVolatile);
    writer.tag("I");
    const tokens = feedTextBlock(writer, text, "input_text", family) + MESSAGE_OVERHEAD;
    segs.add("system", { area: "system", index: -1 }, "instructions", tokens, false, true, {
      volatile: hasVolatileSpan(text),
    });
  }

  const feedItem = (i: number, head: boolean): void => {
    const item = items[i] as Json;
    const where = stringInput ? -1 : i;
    if (!isMessage(item)) {
      feedOtherItem(s, item, i, where, head);
      return;
    }
    const role = roles[i] as string;
    writer.tag("M");
    writer.str(role);
    const textType = role === "assistant" ? "output_text" : "input_text";
    const content = item.content;
    feedContent(s, content, i, where, head, role, textType);
    // Unlike Chat, parts that are not objects still count as content here.
    if (Array.isArray(content) ? content.length === 0 : typeof content !== "string")
      addEmpty(s, head, where, role);
    if (i === last && s.moved !== null) {
      feedMovedText(s, s.moved, i, role, "input_text", family);
      // Content that is neither a string nor an array (invalid for the API) counts as empty, as in Chat.
      const parts: unknown[] =
        typeof content === "string"
          ? [{ type: "input_text", text: content }]
          : Array.isArray(content)
            ? [...content]
            : [];
      parts.push({ type: "input_text", text: s.moved });
      s.edits.push({ path: ["input", i, "content"], value: parts });
    }
  };

  const params = pickParams(body, PARAM_KEYS);
  if (isObj(body.reasoning) && body.reasoning.effort !== undefined)
    params.reasoning_effort = body.reasoning.effort;
  return feedConversation(s, body, params, FORMAT_SCHEMA_PATH, items.length, headN, feedItem);
}

/** An input item that is not a message (function_call, its output, reasoning, ...): one segment. */
function feedOtherItem(s: OpenAIState, item: Json, i: number, where: number, head: boolean): void {
  let fed = item;
  if (s.rules.argumentKeys && typeof item.arguments === "string") {
    const args = canonicalArguments(item.arguments);
    if (args !== item.arguments) {
      s.applied.add("argumentKeys");
      s.edits.push({ path: ["input", i, "arguments"], value: args });
      fed = { ...item, arguments: args };
    }
  }
  s.writer.tag("X");
  const tokens = feedBlock(s.writer, fed, s.structural, s.structural, NO_KEYS) + 3;
  s.segs.add(
    head ? "system" : "message",
    { area: "messages", index: where, block: -2 },
    String(item.type ?? "item"),
    tokens,
    false,
    false,
  );
}

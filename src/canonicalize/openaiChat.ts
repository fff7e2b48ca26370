import type { Analysis, AnalyzeInput, CanonicalEdit } from "../prefix/types.ts";
import { feedMovedText, finishAnalysis, type Head } from "./analysis.ts";
import { feedValue } from "./feed.ts";
import { isObj, type Json } from "./json.ts";
import {
  addEmpty,
  clientCache,
  feedContent,
  feedHead,
  feedTools,
  headCount,
  markedParts,
  type OpenAIState,
  pickParams,
  startOpenAI,
} from "./openaiMessages.ts";
import { canonicalArguments, lastMarkable } from "./openaiParts.ts";
import {
  type AnalysisMemo,
  type Checkpoint,
  checkpointOf,
  findCheckpoint,
  headMemoKey,
  keepTurn,
  memoKey,
  resumeAnalysis,
  sameJson,
} from "./resume.ts";
import type { MessageShape } from "./shared.ts";

const SCHEMA_PATH = ["function", "parameters"];
const FORMAT_SCHEMA_PATH = ["response_format", "json_schema", "schema"];
// Message fields other than content and tool calls that are part of the prompt.
const MESSAGE_KEYS = ["name", "tool_call_id", "refusal", "audio", "function_call"];
const PARAM_KEYS = [
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
];

/**
 * Canonicalizes, segments and hashes an OpenAI Chat Completions request; with a memo, a later turn goes on
 * from the checkpoint an earlier one left (resume.ts).
 */
export function analyzeOpenAIChat(input: AnalyzeInput, memo?: AnalysisMemo): Analysis {
  const { body, rules } = input;
  const messages = Array.isArray(body.messages) ? body.messages.filter(isObj) : [];
  const roles = messages.map((m) => (typeof m.role === "string" ? m.role : ""));
  const headN = headCount(roles);

  const shapes: MessageShape[] = messages.map((m, i) => ({
    role: roles[i] as string,
    lastCacheable: lastMarkable(roles[i] as string, m.content),
    marked: markedParts(m.content),
  }));
  const last = messages.length - 1;
  const moveVolatile = rules.volatileToTail && last >= headN && roles[last] === "user";
  const started = startOpenAI(input, "openai-chat", "messages", shapes, moveVolatile);
  const params = pickParams(body, PARAM_KEYS);
  // A later turn goes on from its conversation's checkpoint, a new conversation from its head's; both need
  // the request's JSON to match through them, markers included, and nothing moved by volatileToTail.
  const memoOn = memo !== undefined && !rules.volatileToTail;
  const key =
    memoOn && messages.length > headN
      ? memoKey(started.h0, started.tokenizer, rules, messages[headN] as Json)
      : "";
  const headKey = memoOn ? headMemoKey(started.h0, started.tokenizer, rules) : "";
  const paramsJson = memoOn ? JSON.stringify(params) : "";
  const continues = (cp: Checkpoint) => continuesFrom(cp, body, paramsJson, messages);
  const from = memo && headKey ? findCheckpoint(memo, key, headKey, continues) : undefined;
  const resumed = from ? resumeAnalysis(started, from, from.segments.clientBreakpoints.length, headN) : null;
  const s = resumed ?? started;
  const { writer, tokenizer: family } = s;

  const feedMessage = (i: number, head: boolean): void => {
    const m = messages[i] as Json;
    const role = roles[i] as string;
    writer.tag("M");
    writer.str(role);
    for (const key of MESSAGE_KEYS) {
      if (m[key] !== undefined && m[key] !== null) {
        writer.str(key);
        feedValue(writer, m[key], s.structural);
      }
    }
    let count = feedContent(s, m.content, i, i, head, role, "text");
    count += feedToolCalls(s, m, i, head, role);
    if (count === 0) addEmpty(s, head, i, role);
    if (i === last && s.moved !== null) {
      feedMovedText(s, s.moved, i, role, "text", family);
      appendMovedPart(s.edits, i, m.content, s.moved);
    }
  };

  let head: Head = { headEnd: -1, family: "", breakpoints: 0 };
  let conversation = "";
  let first = headN;
  // The state through message n, to go on from (everything copied that feeding more would change).
  const checkpoint = (n: number): Checkpoint =>
    checkpointOf(s, {
      system: undefined,
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
  } else {
    feedTools(s, body.tools, SCHEMA_PATH);
    head = feedHead(s, params, FORMAT_SCHEMA_PATH, headN, feedMessage);
    conversation = head.family;
    if (memo && headKey) memo.keep(headKey, [checkpoint(headN)], null);
  }
  let beforeLast: Checkpoint | null = null;
  // A conversation the isolate never analyzed: nothing after its key is hashed now (AnalyzeInput.deferMessages).
  const deferring = input.deferMessages === true && key !== "" && first === headN && last > headN;
  for (let i = first; i < messages.length; i++) {
    if (key && !deferring && i === last && i > headN && !(resumed && i === first)) beforeLast = checkpoint(i);
    feedMessage(i, false);
    if (i === headN) {
      conversation = writer.digest();
      if (deferring) writer.defer();
    }
  }
  if (deferring) return { ...finishAnalysis(s, head, conversation, null, clientCache(body)), deferred: true };
  if (memo && key && s.moved === null) {
    keepTurn(memo, key, checkpoint(messages.length), beforeLast, from, headN);
  }
  return finishAnalysis(s, head, conversation, null, clientCache(body));
}

/** Whether this request feeds the chain as `cp`'s did through `cp`'s last message (exactly the same JSON). */
function continuesFrom(cp: Checkpoint, body: Json, params: string, messages: readonly Json[]): boolean {
  const n = cp.messages.length;
  if (n > messages.length || cp.params !== params || !sameJson(cp.tools, body.tools)) return false;
  // Latest first: a history that differs, differs mostly at its end.
  for (let i = n - 1; i >= 0; i--) if (!sameJson(cp.messages[i], messages[i])) return false;
  return true;
}

/** An assistant message's tool calls, one segment each (arguments under argumentKeys); returns how many. */
function feedToolCalls(s: OpenAIState, m: Json, i: number, head: boolean, role: string): number {
  const calls = Array.isArray(m.tool_calls) ? m.tool_calls : [];
  let count = 0;
  calls.forEach((call, k) => {
    if (!isObj(call)) return;
    let fed = call;
    const fn = call.function;
    if (s.rules.argumentKeys && isObj(fn) && typeof fn.arguments === "string") {
      const args = canonicalArguments(fn.arguments);
      if (args !== fn.arguments) {
        s.applied.add("argumentKeys");
        s.edits.push({ path: ["messages", i, "tool_calls", k, "function", "arguments"], value: args });
        fed = { ...call, function: { ...fn, arguments: args } };
      }
    }
    const tokens = feedValue(s.writer, fed, s.structural) + 3;
    s.segs.add(
      head ? "system" : "message",
      { area: "messages", index: i, toolCall: k },
      "tool_call",
      tokens,
      false,
      false,
      { role },
    );
    count++;
  });
  return count;
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

import { invalid } from "../errors.ts";
import { isObject, type JsonObject } from "../json.ts";

/** One message as sent; `content` is normalized to blocks. */
export interface Message {
  role: "user" | "assistant";
  /** True when the wire content was a string (a single text block without a cache marker). */
  stringContent: boolean;
  content: JsonObject[];
}

/** A validated Messages API (or count_tokens) request. */
export interface MessagesRequest {
  model: string;
  /** Undefined only for count_tokens. */
  maxTokens: number | undefined;
  stream: boolean;
  system: JsonObject[];
  /** True when the wire system was a string. */
  stringSystem: boolean;
  tools: JsonObject[];
  messages: Message[];
  toolChoice: JsonObject | undefined;
  thinking: JsonObject | undefined;
  /** Top-level `cache_control` (automatic mode). */
  cacheControl: unknown;
}

function blocksOf(v: unknown, path: string): JsonObject[] {
  if (!Array.isArray(v)) throw invalid(`${path}: Input should be a valid string or list`);
  return v.map((b, j) => {
    if (!isObject(b) || typeof b.type !== "string") throw invalid(`${path}.${j}.type: Field required`);
    return b;
  });
}

function parseMessages(v: unknown): Message[] {
  if (v === undefined) throw invalid("messages: Field required");
  if (!Array.isArray(v)) throw invalid("messages: Input should be a valid list");
  return v.map((m, i) => {
    if (!isObject(m)) throw invalid(`messages.${i}: Input should be a valid dictionary`);
    if (m.role !== "user" && m.role !== "assistant") {
      throw invalid(`messages.${i}.role: Input should be 'user' or 'assistant'`);
    }
    if (m.content === undefined) throw invalid(`messages.${i}.content: Field required`);
    if (typeof m.content === "string") {
      return { role: m.role, stringContent: true, content: [{ type: "text", text: m.content }] };
    }
    return { role: m.role, stringContent: false, content: blocksOf(m.content, `messages.${i}.content`) };
  });
}

function parseMaxTokens(v: unknown): number {
  if (v === undefined) throw invalid("max_tokens: Field required");
  if (typeof v !== "number" || !Number.isInteger(v))
    throw invalid("max_tokens: Input should be a valid integer");
  if (v < 0) throw invalid("max_tokens: Input should be greater than or equal to 0");
  return v;
}

function optionalObject(v: unknown, path: string): JsonObject | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw invalid(`${path}: Input should be a valid dictionary`);
  return v;
}

/** Validates the fields the simulator relies on, with the real API's 400 messages where known. */
export function parseMessagesRequest(body: JsonObject, kind: "create" | "count"): MessagesRequest {
  if (typeof body.model !== "string" || body.model === "") throw invalid("model: Field required");
  const maxTokens = kind === "create" ? parseMaxTokens(body.max_tokens) : undefined;
  const messages = parseMessages(body.messages);
  if (messages.length === 0) throw invalid("messages: at least one message is required");
  const stringSystem = typeof body.system === "string";
  let system: JsonObject[] = [];
  if (typeof body.system === "string") system = body.system ? [{ type: "text", text: body.system }] : [];
  else if (body.system !== undefined && body.system !== null) system = blocksOf(body.system, "system");
  let tools: JsonObject[] = [];
  if (body.tools !== undefined && body.tools !== null) {
    if (!Array.isArray(body.tools)) throw invalid("tools: Input should be a valid list");
    tools = body.tools.map((t, i) => {
      if (!isObject(t)) throw invalid(`tools.${i}: Input should be a valid dictionary`);
      return t;
    });
  }
  if (body.stream !== undefined && typeof body.stream !== "boolean") {
    throw invalid("stream: Input should be a valid boolean");
  }
  return {
    model: body.model,
    maxTokens,
    stream: body.stream === true,
    system,
    stringSystem,
    tools,
    messages,
    toolChoice: optionalObject(body.tool_choice, "tool_choice"),
    thinking: optionalObject(body.thinking, "thinking"),
    cacheControl: body.cache_control,
  };
}

/** True when the request asks for thinking (extended or adaptive). */
export function thinkingOn(req: MessagesRequest): boolean {
  return req.thinking?.type === "enabled" || req.thinking?.type === "adaptive";
}

/** The tool name a `tool_choice` forces, if it forces one (`any` picks the first tool). */
export function forcedTool(req: MessagesRequest): string | undefined {
  const choice = req.toolChoice;
  if (choice?.type === "tool" && typeof choice.name === "string") return choice.name;
  if (choice?.type === "any") {
    const first = req.tools[0]?.name;
    return typeof first === "string" ? first : "tool";
  }
  return undefined;
}

/** Rejects `max_tokens: 0` (pre-warm) where the real API does. */
export function checkPrewarm(req: MessagesRequest): void {
  if (req.maxTokens !== 0) return;
  if (req.stream) throw invalid("max_tokens: 0 (cache pre-warming) is not supported with stream: true");
  if (thinkingOn(req))
    throw invalid("max_tokens: 0 (cache pre-warming) is not supported with thinking enabled");
  if (forcedTool(req) !== undefined) {
    throw invalid("max_tokens: 0 (cache pre-warming) is not supported with a forced tool_choice");
  }
}

/** The number of user turns and the text of the last user message. */
export function conversationFacts(req: MessagesRequest): { turn: number; lastUserText: string } {
  const users = req.messages.filter((m) => m.role === "user");
  const last = users.at(-1);
  const texts = (last?.content ?? []).flatMap((b) =>
    b.type === "text" && typeof b.text === "string" ? [b.text] : [],
  );
  return { turn: users.length, lastUserText: texts.join(" ") };
}

type Json = Record<string, unknown>;

/**
 * How an answer ended, as the client's next request sees it: `tool` when it asks the client to run tools (an
 * agent comes back with their results as soon as they finish), `reply` otherwise (a person reads it). Null
 * where the answer did not say (an error, a format that does not carry it).
 */
export type AnswerEnd = "tool" | "reply";

// `pause_turn` (a server tool paused a long turn) and `compaction` (the context was compacted, with
// `pause_after_compaction`): the client sends the turn back at once to continue.
const ANTHROPIC_TOOL = new Set(["tool_use", "pause_turn", "compaction"]);
const OPENAI_CHAT_TOOL = new Set(["tool_calls", "function_call"]);
// Output items the client runs and answers (`function_call_output`, ...); server tools (web search) are not.
const RESPONSES_TOOL = new Set([
  "function_call",
  "custom_tool_call",
  "computer_call",
  "local_shell_call",
  "apply_patch_call",
]);

/** A Responses output item the client must run: the fixed kinds, a shell call in a local environment, a client tool search. */
function clientRuns(item: Json): boolean {
  const type = String(item.type);
  if (RESPONSES_TOOL.has(type)) return true;
  if (type === "shell_call") return (item.environment as Json | null | undefined)?.type === "local";
  return type === "tool_search_call" && item.execution === "client";
}

function end(reason: unknown, tool: ReadonlySet<string>): AnswerEnd | null {
  if (typeof reason !== "string" || reason === "") return null;
  return tool.has(reason) ? "tool" : "reply";
}

/** Anthropic Messages (and Bedrock InvokeModel): `stop_reason`. */
export function anthropicAnswerEnd(stopReason: unknown): AnswerEnd | null {
  return end(stopReason, ANTHROPIC_TOOL);
}

/** OpenAI Chat Completions: the first choice's `finish_reason`. */
export function openAIChatAnswerEnd(finishReason: unknown): AnswerEnd | null {
  return end(finishReason, OPENAI_CHAT_TOOL);
}

/**
 * A Chat Completions answer's first choice: tool calls in its message (a function the client named in
 * `tool_choice` finishes with "stop", yet the client must run it), else its `finish_reason`.
 */
export function openAIChatJsonAnswerEnd(json: Json): AnswerEnd | null {
  const choices = json.choices;
  const first = Array.isArray(choices) ? (choices[0] as Json | undefined) : undefined;
  const calls = (first?.message as Json | undefined)?.tool_calls;
  if (Array.isArray(calls) && calls.length > 0) return "tool";
  return openAIChatAnswerEnd(first?.finish_reason);
}

/** OpenAI Responses: a completed response whose output holds a call the client runs. */
export function openAIResponsesAnswerEnd(response: unknown): AnswerEnd | null {
  if (response === null || typeof response !== "object") return null;
  const r = response as Json;
  if (r.status !== "completed" || !Array.isArray(r.output)) return null;
  for (const item of r.output)
    if (item && typeof item === "object" && clientRuns(item as Json)) return "tool";
  return "reply";
}

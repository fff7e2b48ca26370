import { hashOf } from "../hash.ts";
import { isObject, type JsonObject } from "../json.ts";
import { DOCUMENT_TOKENS, IMAGE_TOKENS } from "../tokens.ts";
import { type OpenAIPrompt, PromptBuilder } from "./prompt.ts";

// How a request becomes the token sequence that OpenAI's prefix cache sees (README "OpenAI prompt"): tools
// first, then the conversation in order. Text is counted, media get fixed counts.

/** Roles whose content parts take `prompt_cache_breakpoint` and whose messages can end at the implicit one. */
const BREAKPOINT_ROLES = new Set(["user", "system", "developer", "tool"]);

function part(b: PromptBuilder, header: string, p: unknown, breakpoints: boolean): void {
  if (!isObject(p)) {
    b.text(header, JSON.stringify(p) ?? "");
    b.boundary();
    return;
  }
  partTokens(b, header, p);
  b.boundary(breakpoints && isObject(p.prompt_cache_breakpoint));
}

function partTokens(b: PromptBuilder, header: string, p: JsonObject): void {
  const type = String(p.type);
  if (typeof p.text === "string" && (type === "text" || type === "input_text" || type === "output_text")) {
    b.text(header, p.text);
  } else if (type === "image_url" || type === "input_image") {
    b.fixed(`${header}:image`, JSON.stringify(p), IMAGE_TOKENS);
  } else if (type === "file" || type === "input_file" || type === "input_audio") {
    b.fixed(`${header}:${type}`, JSON.stringify(p), DOCUMENT_TOKENS);
  } else {
    b.text(`${header}:${type}`, JSON.stringify(p));
  }
}

// A message's content, then its end as a boundary (the implicit breakpoint's place for eligible roles).
// Breakpoints on assistant parts are ignored (README "GPT-5.6+ breakpoints").
function content(b: PromptBuilder, header: string, c: unknown, role: string): void {
  const eligible = BREAKPOINT_ROLES.has(role);
  if (typeof c === "string") b.text(header, c);
  else if (Array.isArray(c)) for (const p of c) part(b, header, p, eligible);
  else b.text(header, "");
  b.boundary(false, eligible);
}

function tools(b: PromptBuilder, list: JsonObject[]): void {
  for (const t of list) b.text("tool", JSON.stringify(t));
}

/** The prompt of a Chat Completions request. */
export function renderChat(
  model: string,
  messages: JsonObject[],
  toolList: JsonObject[],
  format: unknown,
): OpenAIPrompt {
  const b = new PromptBuilder(hashOf("openai", model));
  tools(b, toolList);
  if (isObject(format) && format.type !== "text") b.text("response_format", JSON.stringify(format));
  for (const m of messages) {
    const header = `msg:${String(m.role)}:${typeof m.name === "string" ? m.name : ""}:${String(m.tool_call_id ?? "")}`;
    if (Array.isArray(m.tool_calls)) {
      content(b, header, m.content, "assistant");
      b.text(`${header}:tool_calls`, JSON.stringify(m.tool_calls)).boundary();
    } else content(b, header, m.content, String(m.role));
  }
  return b.finish();
}

/** The prompt of a Responses request: tools, text format, instructions, then the input items. */
export function renderResponses(
  model: string,
  instructions: unknown,
  input: unknown,
  toolList: JsonObject[],
  format: unknown,
): OpenAIPrompt {
  const b = new PromptBuilder(hashOf("openai", model));
  tools(b, toolList);
  if (isObject(format) && format.type !== "text") b.text("text_format", JSON.stringify(format));
  if (typeof instructions === "string") content(b, "msg:developer", instructions, "developer");
  if (typeof input === "string") content(b, "msg:user", input, "user");
  else if (Array.isArray(input)) {
    for (const item of input) {
      if (!isObject(item)) continue;
      if (typeof item.role === "string" && (item.type === undefined || item.type === "message")) {
        content(b, `msg:${item.role}`, item.content, item.role);
      } else if (item.type === "function_call") {
        b.text(
          "function_call",
          JSON.stringify({ call_id: item.call_id, name: item.name, arguments: item.arguments }),
        ).boundary();
      } else if (item.type === "function_call_output") {
        const out = typeof item.output === "string" ? item.output : JSON.stringify(item.output);
        b.text(`function_call_output:${String(item.call_id)}`, out ?? "").boundary(false, true);
      } else {
        b.text(`item:${String(item.type)}`, JSON.stringify(item)).boundary();
      }
    }
  }
  return b.finish();
}

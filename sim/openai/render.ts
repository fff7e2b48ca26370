import { hashOf } from "../hash.ts";
import { isObject, type JsonObject } from "../json.ts";
import { DOCUMENT_TOKENS, IMAGE_TOKENS } from "../tokens.ts";
import { type OpenAIPrompt, PromptBuilder } from "./prompt.ts";

// How a request becomes the token sequence that OpenAI's prefix cache sees (README "OpenAI prompt"): tools
// first, then the conversation in order. Text is counted, media get fixed counts.

function part(b: PromptBuilder, header: string, p: unknown): void {
  if (!isObject(p)) {
    b.text(header, JSON.stringify(p) ?? "");
    return;
  }
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

function content(b: PromptBuilder, header: string, c: unknown): void {
  if (typeof c === "string") b.text(header, c);
  else if (Array.isArray(c)) for (const p of c) part(b, header, p);
  else b.text(header, "");
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
    content(b, header, m.content);
    if (Array.isArray(m.tool_calls)) b.text(`${header}:tool_calls`, JSON.stringify(m.tool_calls));
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
  if (typeof instructions === "string") b.text("msg:developer", instructions);
  if (typeof input === "string") b.text("msg:user", input);
  else if (Array.isArray(input)) {
    for (const item of input) {
      if (!isObject(item)) continue;
      if (typeof item.role === "string" && (item.type === undefined || item.type === "message")) {
        content(b, `msg:${item.role}`, item.content);
      } else if (item.type === "function_call") {
        b.text(
          "function_call",
          JSON.stringify({ call_id: item.call_id, name: item.name, arguments: item.arguments }),
        );
      } else if (item.type === "function_call_output") {
        const out = typeof item.output === "string" ? item.output : JSON.stringify(item.output);
        b.text(`function_call_output:${String(item.call_id)}`, out ?? "");
      } else {
        b.text(`item:${String(item.type)}`, JSON.stringify(item));
      }
    }
  }
  return b.finish();
}

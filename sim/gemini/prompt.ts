import { ProviderError } from "../errors.ts";
import { Hasher } from "../hash.ts";
import { isObject, type JsonObject } from "../json.ts";
import { IMAGE_TOKENS, jsonTokens, textTokens } from "../tokens.ts";

/** One cacheable unit of a Gemini prompt: a system part, a tool, the tool config, or one part of a content. */
export interface Block {
  tokens: number;
  /** Tokens from the prompt's start through this block. */
  cumulative: number;
  /** Chain hash through this block. */
  hash: string;
}

/** A 400 INVALID_ARGUMENT in Gemini's shape. */
export function invalidArgument(message: string): ProviderError {
  return new ProviderError({ status: 400, message, status_text: "INVALID_ARGUMENT" });
}

/** Tokens of one part: text by bytes, inline media at a fixed count, anything else its JSON. */
export function partTokens(part: JsonObject): number {
  if (typeof part.text === "string") return textTokens(part.text);
  if (isObject(part.inlineData) || isObject(part.fileData)) return IMAGE_TOKENS;
  return jsonTokens(part);
}

function partsOf(content: unknown, path: string): JsonObject[] {
  if (!isObject(content)) throw invalidArgument(`Invalid value at '${path}': expected a Content object.`);
  const parts = content.parts;
  if (parts === undefined) return [];
  if (!Array.isArray(parts) || !parts.every(isObject))
    throw invalidArgument(`Invalid value at '${path}.parts': expected a list of Part objects.`);
  return parts;
}

/** The head a cache (explicit or the request's own) holds: system instruction, tools, tool config. */
export interface Head {
  systemInstruction?: unknown;
  tools?: unknown;
  toolConfig?: unknown;
}

/**
 * The prompt as blocks in order: system instruction parts, each function declaration (or other tool), the
 * tool config, then every part of every content (role hashed in). The chain starts at the model.
 * _choice_: Google does not document the order; this is the order `cachedContents` lists them in.
 */
export function promptBlocks(model: string, head: Head, contents: readonly JsonObject[]): Block[] {
  const h = new Hasher(`gemini\u0000${model}`);
  const out: Block[] = [];
  let total = 0;
  const add = (kind: string, value: unknown, tokens: number) => {
    h.string(kind);
    h.string(JSON.stringify(value) ?? "");
    total += tokens;
    out.push({ tokens, cumulative: total, hash: h.digest() });
  };
  if (head.systemInstruction !== undefined && head.systemInstruction !== null) {
    for (const p of partsOf(head.systemInstruction, "system_instruction")) add("S", p, partTokens(p));
  }
  if (head.tools !== undefined && head.tools !== null) {
    if (!Array.isArray(head.tools) || !head.tools.every(isObject))
      throw invalidArgument("Invalid value at 'tools': expected a list of Tool objects.");
    for (const tool of head.tools) {
      const decls = Array.isArray(tool.functionDeclarations) ? tool.functionDeclarations : null;
      if (decls) for (const d of decls) add("F", d, jsonTokens(d));
      const rest = Object.fromEntries(Object.entries(tool).filter(([k]) => k !== "functionDeclarations"));
      if (Object.keys(rest).length > 0) add("T", rest, jsonTokens(rest));
    }
  }
  if (head.toolConfig !== undefined && head.toolConfig !== null)
    add("C", head.toolConfig, jsonTokens(head.toolConfig));
  contents.forEach((content, i) => {
    const role = typeof content.role === "string" ? content.role : "user";
    const parts = partsOf(content, `contents[${i}]`);
    for (const [j, p] of parts.entries()) add(j === 0 ? `M${role}` : "P", p, partTokens(p));
  });
  return out;
}

/** The request's `contents`, checked as the API checks them. */
export function parseContents(body: JsonObject): JsonObject[] {
  const contents = body.contents;
  if (contents === undefined) return [];
  if (!Array.isArray(contents) || !contents.every(isObject))
    throw invalidArgument("Invalid value at 'contents': expected a list of Content objects.");
  contents.forEach((c, i) => {
    if (c.role !== undefined && c.role !== "user" && c.role !== "model" && c.role !== "function")
      throw invalidArgument(`Please use a valid role: user, model.`);
    if (!Array.isArray(c.parts) || c.parts.length === 0)
      throw invalidArgument(
        `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.`,
      );
  });
  return contents;
}

/** The text of the last user content, for the reply. */
export function lastUserText(contents: readonly JsonObject[]): string {
  for (let i = contents.length - 1; i >= 0; i--) {
    const c = contents[i] as JsonObject;
    if (c.role !== undefined && c.role !== "user") continue;
    const parts = Array.isArray(c.parts) ? c.parts.filter(isObject) : [];
    const text = parts.map((p) => (typeof p.text === "string" ? p.text : "")).join("");
    if (text) return text;
  }
  return "";
}

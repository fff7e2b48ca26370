import { Hasher } from "../hash.ts";
import { isObject, type JsonObject } from "../json.ts";

/** Bytes per token in the simulator's tokenization (as elsewhere in sim/: ceil(UTF-8 bytes / 4)). */
export const BYTES_PER_TOKEN = 4;

/** A rendered prompt as the backend's KV cache sees it. */
export interface GpuPrompt {
  tokens: number;
  /** Chained hash of each full KV block (16 tokens = 64 bytes), salted by model and cache_salt. */
  blocks: string[];
}

/** A chat template of the simulator's own: tools, then `<|role|>\n content <|end|>` per message. */
export function renderChat(body: JsonObject): string {
  const parts: string[] = [];
  if (Array.isArray(body.tools) && body.tools.length > 0)
    parts.push(`<|tools|>${JSON.stringify(body.tools)}\n`);
  for (const m of Array.isArray(body.messages) ? body.messages : []) {
    if (!isObject(m)) continue;
    parts.push(`<|${String(m.role)}|>\n`);
    if (typeof m.content === "string") parts.push(m.content);
    else if (Array.isArray(m.content))
      for (const p of m.content)
        parts.push(isObject(p) && typeof p.text === "string" ? p.text : JSON.stringify(p));
    if (m.tool_calls !== undefined) parts.push(JSON.stringify(m.tool_calls));
    parts.push("<|end|>\n");
  }
  parts.push("<|assistant|>\n");
  return parts.join("");
}

/** The first prompt of a Completions request as text (token ids are joined). */
export function renderCompletion(body: JsonObject): string {
  const p = body.prompt;
  const first = Array.isArray(p) && p.length > 0 && typeof p[0] !== "number" ? p[0] : p;
  if (typeof first === "string") return first;
  if (Array.isArray(first)) return first.join(" ");
  return "";
}

/**
 * Tokens and KV block hashes of a prompt text. Like vLLM, the salt (`cache_salt`) goes into the first
 * block's key and so, through the chain, into every block's: equal prompts with different salts share
 * nothing.
 */
export function tokenize(text: string, model: string, salt: string | null, blockTokens: number): GpuPrompt {
  const bytes = new TextEncoder().encode(text);
  const hasher = new Hasher(`${model}\u0000${salt ?? ""}`);
  const blockBytes = blockTokens * BYTES_PER_TOKEN;
  const blocks: string[] = [];
  for (let i = 0; i + blockBytes <= bytes.length; i += blockBytes) {
    hasher.bytes(bytes, i, i + blockBytes);
    blocks.push(hasher.digest());
  }
  return { tokens: Math.ceil(bytes.length / BYTES_PER_TOKEN), blocks };
}

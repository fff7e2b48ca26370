import { analyzeOpenAIChat } from "../canonicalize/openaiChat.ts";
import type { CanonicalizeRules } from "../canonicalize/rules.ts";
import type { CanonicalEdit } from "../prefix/types.ts";
import { applyToBody } from "../upstream/body/apply.ts";
import { requestStreamUsage } from "../upstream/openai-stream-usage.ts";
import { chunkHashes, chunkRoot } from "./chunks.ts";

/** The OpenAI-compatible endpoints a GPU pool serves. */
export type GpuEndpoint = "chat.completions" | "completions";

/** Each endpoint's path below a backend's root. */
export const GPU_PATHS: Record<GpuEndpoint, string> = {
  "chat.completions": "/v1/chat/completions",
  completions: "/v1/completions",
};

type Json = Record<string, unknown>;

export interface GpuPrepareInput {
  endpoint: GpuEndpoint;
  raw: string;
  body: Json;
  /** The tenant's secret routing salt (the same one its prefix chains use). */
  tenantSalt: string;
  /** The `cache_salt` to send (already mixed with the client's own, if any). */
  cacheSalt: string;
  rules: CanonicalizeRules;
  /** Ask the backend for the stream's usage chunk (the client did not). */
  requestUsage: boolean;
  /** Over the analysis budget (src/edge/budget.ts): no canonicalization, the salt and routing keys only. */
  skipAnalysis?: boolean;
}

/** A GPU request ready to route and forward. */
export interface GpuPrepared {
  /** The body for backends that take `cache_salt`, and for those that do not (the field removed). */
  withSalt: string;
  withoutSalt: string;
  /** Routing keys: chained hashes of the canonical prompt's full chunks. */
  chunks: string[];
  /** Estimated prompt tokens. */
  tokens: number;
  /** Hash through the conversation's first message (Chat), or null: the keepalive candidate's key. */
  conversation: string | null;
  /** Canonicalization rules that changed the body. */
  applied: string[];
  /** Canonicalization failed and the client's prompt went as it came (fail open). */
  fault: boolean;
}

/**
 * Canonicalizes a GPU request (Chat: the same rules as the OpenAI route, so equal prompts are equal bytes and
 * share KV blocks), sets its `cache_salt`, and computes its routing keys from the canonical prompt text.
 * Pure. The forwarded body is the client's bytes with only the changed parts edited, as elsewhere.
 */
export function prepareGpu(input: GpuPrepareInput): GpuPrepared {
  let raw = input.raw;
  let body = input.body;
  if (input.requestUsage) {
    raw = requestStreamUsage(raw, body);
    const options = isObj(body.stream_options) ? body.stream_options : {};
    body = { ...body, stream_options: { ...options, include_usage: true } };
  }
  let edits: readonly CanonicalEdit[] = [];
  let conversation: string | null = null;
  let applied: string[] = [];
  let fault = false;
  if (input.endpoint === "chat.completions" && !input.skipAnalysis) {
    try {
      const a = analyzeOpenAIChat({ raw, body, salt: input.tenantSalt, rules: input.rules });
      edits = a.canonical.edits;
      applied = [...a.canonical.applied];
      conversation = a.conversation;
    } catch {
      fault = true;
    }
  }
  const canonical = withEdits(body, edits);
  const clientSalt = typeof body.cache_salt === "string" ? body.cache_salt : "";
  const model = typeof body.model === "string" ? body.model : "";
  const { text, tokens } =
    input.endpoint === "chat.completions" ? chatText(canonical) : completionText(canonical);
  const params = input.endpoint === "chat.completions" ? templateParams(canonical) : "";
  const root = chunkRoot(input.tenantSalt, input.endpoint, model, `${clientSalt}\n${params}`);

  let withSalt: string;
  let withoutSalt: string;
  if ("cache_salt" in body) {
    // Rare: the client sent its own. Re-serializing once is simpler than editing a field out of the bytes.
    const { cache_salt: _ignored, ...rest } = canonical;
    withSalt = JSON.stringify({ ...rest, cache_salt: input.cacheSalt });
    withoutSalt = JSON.stringify(rest);
  } else {
    withSalt = applyToBody(raw, edits, [], [{ key: "cache_salt", value: input.cacheSalt }]);
    withoutSalt = applyToBody(raw, edits, [], []);
  }
  return { withSalt, withoutSalt, chunks: chunkHashes(root, text), tokens, conversation, applied, fault };
}

const isObj = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);

/** The body with the canonical edits applied (copy on write: the client's body is not changed). */
export function withEdits(body: Json, edits: readonly CanonicalEdit[]): Json {
  if (edits.length === 0) return body;
  const root: Json = { ...body };
  for (const e of edits) {
    let node: Json | unknown[] = root;
    for (let i = 0; i < e.path.length - 1; i++) {
      const key = e.path[i] as string | number;
      const child: unknown = (node as Record<string | number, unknown>)[key];
      const copy: Json | unknown[] = Array.isArray(child) ? [...child] : isObj(child) ? { ...child } : {};
      (node as Record<string | number, unknown>)[key] = copy;
      node = copy;
    }
    (node as Record<string | number, unknown>)[e.path.at(-1) as string | number] = e.value;
  }
  return root;
}

/**
 * The prompt a chat template renders, in its order, without the template: the tools, then each message's
 * role, name, content and tool calls. Equal conversations give equal text; a conversation's next turn starts
 * with its previous text.
 */
export function chatText(body: Json): { text: string; tokens: number } {
  const parts: string[] = [];
  if (Array.isArray(body.tools) && body.tools.length > 0)
    parts.push(`\u0001tools\n${JSON.stringify(body.tools)}`);
  const messages = Array.isArray(body.messages) ? body.messages : [];
  for (const m of messages) {
    if (!isObj(m)) continue;
    parts.push(`\u0001${String(m.role)}${typeof m.name === "string" ? `:${m.name}` : ""}\n`);
    if (typeof m.content === "string") parts.push(m.content);
    else if (Array.isArray(m.content)) {
      for (const p of m.content)
        parts.push(isObj(p) && typeof p.text === "string" ? p.text : JSON.stringify(p));
    }
    if (m.tool_calls !== undefined) parts.push(JSON.stringify(m.tool_calls));
    if (typeof m.tool_call_id === "string") parts.push(`\u0002${m.tool_call_id}`);
  }
  const text = parts.join("");
  return { text, tokens: Math.ceil(text.length / 4) };
}

/** The first prompt of a Completions request (a batch routes on its first prompt). */
export function completionText(body: Json): { text: string; tokens: number } {
  const prompt = body.prompt;
  const first =
    Array.isArray(prompt) && prompt.length > 0 && typeof prompt[0] !== "number" ? prompt[0] : prompt;
  if (typeof first === "string") return { text: first, tokens: Math.ceil(first.length / 4) };
  if (Array.isArray(first)) return { text: first.join(","), tokens: first.length };
  return { text: "", tokens: 0 };
}

/** Chat parameters that change the rendered prompt (vLLM's template options). */
function templateParams(body: Json): string {
  const keys = ["chat_template", "chat_template_kwargs", "add_generation_prompt", "continue_final_message"];
  return keys.some((k) => body[k] !== undefined) ? JSON.stringify(keys.map((k) => body[k] ?? null)) : "";
}

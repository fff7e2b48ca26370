import { BLOCK_TOKENS, type Trace, type TraceRequest } from "../trace.ts";

/**
 * How trace blocks become request bodies. A trace block is 512 tokens with a chained id: equal ids are equal
 * bytes at the same position. Each block's text is deterministic words, 4 bytes per simulator token (the
 * simulator counts ceil(bytes / 4)), so the provider bills exactly the trace's token counts.
 *
 * - The request's head blocks (Mooncake: block 0, the shared system prompt; synthetic workloads name theirs)
 *   are system blocks; every other block is one message, roles alternating from `user`; a request that
 *   would end on an assistant message gets a short user turn after it (`Continue.`).
 * - `block`: one content block per trace block, so a breakpoint's 20-block lookback reaches 20 trace blocks.
 * - `paragraph`: four content blocks (128 tokens each) per trace block, so the lookback reaches 5: the mapping
 *   that decides how far back a read can find an earlier write.
 */
export type Mapping = "block" | "paragraph";

export const MAPPINGS: readonly Mapping[] = ["block", "paragraph"];

const WORDS =
  "the of and to in is that for it as with was on be by this are or from at an which but not have all were can has one their more been if will would other there also into only its new some when two time may these than then first any most over such where after out many made".split(
    " ",
  );

// Shared blocks (system prompts, documents) come back in every request: their texts are kept, within bounds.
const texts = new Map<string, string>();
const MAX_TEXTS = 20_000;

/** Deterministic text of `tokens` simulator tokens for one block id (and part). */
export function blockText(id: number, part: number, tokens: number): string {
  const key = `${id}.${part}.${tokens}`;
  const known = texts.get(key);
  if (known !== undefined) return known;
  if (texts.size >= MAX_TEXTS) texts.clear();
  const text = makeText(id, part, tokens);
  texts.set(key, text);
  return text;
}

function makeText(id: number, part: number, tokens: number): string {
  const bytes = tokens * 4;
  const out: string[] = [`b${id}.${part}`];
  let len = out[0]?.length ?? 0;
  let x = (id * 2654435761 + part * 40503 + 1) >>> 0;
  while (len < bytes) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const w = WORDS[x % WORDS.length] as string;
    out.push(w);
    len += w.length + 1;
  }
  return out.join(" ").slice(0, bytes);
}

/** The texts of one trace block under a mapping (their tokens add up to the block's). */
function blockParts(trace: Trace, id: number, mapping: Mapping): string[] {
  const tokens = trace.blockTokens[id] ?? BLOCK_TOKENS;
  if (mapping === "block") return [blockText(id, 0, tokens)];
  const parts: string[] = [];
  const per = Math.ceil(tokens / 4);
  for (let p = 0, left = tokens; left > 0; p++, left -= per)
    parts.push(blockText(id, p, Math.min(per, left)));
  return parts;
}

/** The head blocks of a request: the ones every request of its family shares. */
export function headBlocks(req: TraceRequest, fallback = 1): number {
  return Math.max(1, Math.min(req.headBlocks ?? fallback, req.ids.length - 1));
}

interface Turn {
  role: "user" | "assistant";
  texts: string[];
}

function turns(trace: Trace, req: TraceRequest, mapping: Mapping, head: number): Turn[] {
  const out: Turn[] = [];
  for (let i = head; i < req.ids.length; i++) {
    out.push({
      role: (i - head) % 2 === 0 ? "user" : "assistant",
      texts: blockParts(trace, req.ids[i] as number, mapping),
    });
  }
  if (out.length === 0 || out.at(-1)?.role === "assistant") out.push({ role: "user", texts: ["Continue."] });
  return out;
}

/** The texts of the request's head blocks (the system prompt). */
function systemTexts(trace: Trace, req: TraceRequest, mapping: Mapping, head: number): string[] {
  return Array.from(req.ids.slice(0, head)).flatMap((id) => blockParts(trace, id, mapping));
}

/** An Anthropic Messages body for a trace request, with no cache markers (what an app sends). */
export function anthropicBody(
  trace: Trace,
  req: TraceRequest,
  mapping: Mapping,
  model: string,
  headFallback = 1,
): Record<string, unknown> {
  const head = headBlocks(req, headFallback);
  const system = systemTexts(trace, req, mapping, head).map((text) => ({ type: "text", text }));
  return {
    model,
    max_tokens: 256,
    system,
    messages: turns(trace, req, mapping, head).map((t) => ({
      role: t.role,
      content: t.texts.map((text) => ({ type: "text", text })),
    })),
  };
}

/** An OpenAI Chat Completions body for a trace request (a system message, then alternating turns). */
export function openAIChatBody(
  trace: Trace,
  req: TraceRequest,
  mapping: Mapping,
  model: string,
  headFallback = 1,
): Record<string, unknown> {
  const head = headBlocks(req, headFallback);
  const system = systemTexts(trace, req, mapping, head).join("\n");
  return {
    model,
    max_completion_tokens: 256,
    messages: [
      { role: "system", content: system },
      ...turns(trace, req, mapping, head).map((t) => ({ role: t.role, content: t.texts.join("\n") })),
    ],
  };
}

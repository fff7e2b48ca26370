// Realistic request bodies: tools, a long system prompt and a multi-turn agent conversation, sized in the
// simulator's tokens (UTF-8 bytes / 4). Every request of a group shares the prefix and gets a new tail, so
// the planner and the tracker see what they see in production (a known head, a new last message).
// Deterministic (mulberry32): the same seed gives the same bodies in every run.
import { mulberry32 } from "../economics/synthetic.ts";

export type Upstream = "anthropic" | "openai";
type Json = Record<string, unknown>;

const WORDS = (
  "the a cache prefix request model token system prompt tool result file path line function return value " +
  "user assistant message context window latency stream event chunk header body error retry budget plan " +
  "breakpoint entry write read hit miss tenant worker durable object storage index query table row column"
).split(" ");

/** ASCII prose of about `tokens` simulator tokens (4 bytes each), with newlines and some code-ish lines. */
export function prose(tokens: number, seed: number): string {
  const next = mulberry32(seed);
  const target = Math.max(4, tokens * 4);
  const parts: string[] = [];
  let len = 0;
  while (len < target) {
    const w = WORDS[Math.floor(next() * WORDS.length)] as string;
    const r = next();
    const piece =
      r < 0.04
        ? `${w}.\n`
        : r < 0.06
          ? `\n  const ${w} = read("${w}.ts", ${Math.floor(next() * 999)});\n`
          : `${w} `;
    parts.push(piece);
    len += piece.length;
  }
  return parts.join("").slice(0, target);
}

interface Shape {
  tools: { name: string; description: string }[];
  system: string;
  /** Alternating user/assistant turns: [user text, assistant text] pairs, the user side sometimes a tool result. */
  turns: { user: string; assistant: string; tool: boolean }[];
}

/** The shared prefix of a group, about `tokens` simulator tokens in total (tail excluded). */
function shape(tokens: number, seed: number): Shape {
  const toolCount = Math.min(8, Math.max(1, Math.floor(tokens / 2500)));
  const tools = Array.from({ length: toolCount }, (_, i) => ({
    name: `tool_${i}`,
    description: prose(100, seed + i),
  }));
  const systemTokens = Math.min(6000, Math.round(tokens * 0.2));
  const system = prose(systemTokens, seed + 100);
  const next = mulberry32(seed + 200);
  const turns: Shape["turns"] = [];
  let budget = tokens - systemTokens - toolCount * 160;
  for (let i = 0; budget > 0; i++) {
    const userTokens = Math.min(budget, 150 + Math.floor(next() * 700));
    const assistantTokens = 40 + Math.floor(next() * 120);
    turns.push({
      user: prose(userTokens, seed + 300 + i),
      assistant: prose(assistantTokens, seed + 5000 + i),
      tool: i % 3 !== 0,
    });
    budget -= userTokens + assistantTokens + 30;
  }
  return { tools, system, turns };
}

const schema = {
  type: "object",
  properties: { path: { type: "string", description: "file path" }, limit: { type: "integer" } },
  required: ["path"],
};

/** The assistant's side of an exchange: text plus a tool call (`id`), as an agent loop sends it. */
function replyMessages(upstream: Upstream, id: number, text: string): Json[] {
  const input = { path: `/src/f${id}.ts`, limit: id };
  return upstream === "anthropic"
    ? [
        {
          role: "assistant",
          content: [
            { type: "text", text },
            { type: "tool_use", id: `toolu_${id}`, name: "tool_0", input },
          ],
        },
      ]
    : [
        {
          role: "assistant",
          content: text,
          tool_calls: [
            {
              id: `call_${id}`,
              type: "function",
              function: { name: "tool_0", arguments: JSON.stringify(input) },
            },
          ],
        },
      ];
}

/** The user's side: the result of tool call `id`, then `text` (a new last message). */
function userMessages(upstream: Upstream, id: number, result: string, text: string | null): Json[] {
  if (upstream === "anthropic") {
    const blocks: Json[] = [{ type: "tool_result", tool_use_id: `toolu_${id}`, content: result }];
    if (text !== null) blocks.push({ type: "text", text });
    return [{ role: "user", content: blocks }];
  }
  const out: Json[] = [{ role: "tool", tool_call_id: `call_${id}`, content: result }];
  if (text !== null) out.push({ role: "user", content: text });
  return out;
}

/** The messages of a shape's turns; they end with a tool call whose id is `s.turns.length`. */
function turnMessages(upstream: Upstream, s: Shape): Json[] {
  const out: Json[] = [];
  s.turns.forEach((t, i) => {
    // Every user turn after the first answers the previous tool call, as the real APIs require.
    if (i === 0) out.push({ role: "user", content: t.user });
    else if (t.tool) out.push(...userMessages(upstream, i, t.user, null));
    else out.push(...userMessages(upstream, i, "ok", t.user));
    out.push(...replyMessages(upstream, i + 1, t.assistant));
  });
  return out;
}

/** What every body asks for at most (`max_tokens`, `max_completion_tokens`): the simulator stops an answer there. */
export const MAX_ANSWER_TOKENS = 256;

function wrap(upstream: Upstream, s: Shape, messages: Json[], stream: boolean): Json {
  if (upstream === "anthropic") {
    return {
      model: "claude-sonnet-4-5",
      max_tokens: MAX_ANSWER_TOKENS,
      ...(stream ? { stream: true } : {}),
      tools: s.tools.map((t) => ({ name: t.name, description: t.description, input_schema: schema })),
      system: [{ type: "text", text: s.system }],
      messages,
    };
  }
  return {
    model: "gpt-5.4",
    max_completion_tokens: MAX_ANSWER_TOKENS,
    ...(stream ? { stream: true } : {}),
    tools: s.tools.map((t) => ({
      type: "function",
      function: { name: t.name, description: t.description, parameters: schema },
    })),
    messages: [{ role: "system", content: s.system }, ...messages],
  };
}

/**
 * A group's body factory: request `i` has the group's prefix and a last message of its own. With
 * `newConversation`, request `i` is also the first request of a conversation of its own: its first message
 * starts with its own line (same tools and system: one family; every position after them new).
 */
export function bodyFactory(
  upstream: Upstream,
  tokens: number,
  stream: boolean,
  seed: number,
  newConversation = false,
): (i: number) => Buffer {
  const s = shape(tokens, seed);
  const head = turnMessages(upstream, s);
  return (i) => {
    const tail = `Request ${seed}-${i}: ${prose(50, seed * 7919 + i)}`;
    const own = newConversation
      ? [{ ...head[0], content: `Conversation ${seed}-${i}. ${String(head[0]?.content)}` }, ...head.slice(1)]
      : head;
    const messages = [...own, ...userMessages(upstream, s.turns.length, "ok", tail)];
    return Buffer.from(JSON.stringify(wrap(upstream, s, messages, stream)));
  };
}

/**
 * A new conversation's opening request in a family whose tools and system are most of the prompt, as an
 * agent's new session or sub-agent sends it (Claude Code's tools and system are tens of thousands of tokens,
 * its first message a few hundred): request `i` has the family's tools (60 % of `tokens`) and system (35 %)
 * and one user message of its own (5 %).
 */
export function openingFactory(
  upstream: Upstream,
  tokens: number,
  stream: boolean,
  seed: number,
): (i: number) => Buffer {
  const toolCount = 16;
  const s: Shape = {
    tools: Array.from({ length: toolCount }, (_, i) => ({
      name: `tool_${i}`,
      description: prose(Math.round((tokens * 0.6) / toolCount), seed + i),
    })),
    system: prose(Math.round(tokens * 0.35), seed + 100),
    turns: [],
  };
  return (i) => {
    const text = `Conversation ${seed}-${i}: ${prose(Math.round(tokens * 0.05), seed * 7919 + i)}`;
    return Buffer.from(JSON.stringify(wrap(upstream, s, [{ role: "user", content: text }], stream)));
  };
}

/** A conversation that grows by one exchange per turn (the tracker phase: new positions every turn). */
export class Conversation {
  readonly #shape: Shape;
  readonly #upstream: Upstream;
  readonly #messages: Json[];
  #id: number;
  #pending: Json[] = [];

  constructor(upstream: Upstream, tokens: number, seed: number, familySeed: number) {
    // Conversations of one family share tools and system; their own turns make them distinct.
    const family = shape(tokens, familySeed);
    const own = shape(tokens, seed);
    this.#shape = { tools: family.tools, system: family.system, turns: own.turns };
    this.#upstream = upstream;
    this.#messages = turnMessages(upstream, this.#shape);
    this.#id = this.#shape.turns.length;
  }

  /** The body of the next turn: the history plus a new last message. */
  body(): Json {
    this.#pending = userMessages(
      this.#upstream,
      this.#id,
      "ok",
      `Turn ${this.#id}: ${prose(60, this.#id * 31)}`,
    );
    return wrap(this.#upstream, this.#shape, [...this.#messages, ...this.#pending], false);
  }

  /** Keeps the last message as sent and the model's reply, so the next turn extends this one. */
  advance(reply: string): void {
    this.#messages.push(...this.#pending, ...replyMessages(this.#upstream, this.#id + 1, reply || "ok"));
    this.#id++;
  }
}

// The conversation-caching scenario, shared by its test (test/e2e/conversation-caching.test.ts, in workerd)
// and its report (scripts/e2e-conversation.ts, under `wrangler dev`), so that the README's hit rate and the
// test's assertions are about the same conversation: a long system prompt, six tools, and turns of ~120
// words, sent with no `cache_control` anywhere (or, for the baseline client, one top-level `cache_control`).
import type Anthropic from "@anthropic-ai/sdk";

export const MODEL = "claude-sonnet-4-6";

/** `words` words of repeating, seeded text (the simulator counts ceil(UTF-8 bytes / 4) tokens). */
export function longText(words: number, seed = "policy"): string {
  const parts: string[] = [];
  for (let i = 0; i < words; i++) parts.push(`${seed}${i % 97}`);
  return parts.join(" ");
}

/** Six search tools; `reorderKeys` writes the same schemas with their keys in another order. */
export function tools(reorderKeys: boolean): Anthropic.Tool[] {
  return Array.from({ length: 6 }, (_, i) => {
    const properties: Record<string, unknown> = reorderKeys
      ? {
          limit: { type: "number", description: "max rows" },
          query: { description: "search text", type: "string" },
        }
      : {
          query: { type: "string", description: "search text" },
          limit: { description: "max rows", type: "number" },
        };
    const schema = reorderKeys
      ? { required: ["query"], properties, type: "object" as const }
      : { type: "object" as const, properties, required: ["query"] };
    return { name: `search_${i}`, description: longText(40, `tool${i}`), input_schema: schema };
  });
}

/**
 * Runs a conversation of `turns` turns with `client`; returns each turn's usage. `naive`: the client turns on
 * Anthropic's automatic caching (one top-level `cache_control`), the one-line baseline Stoker must beat.
 * `reorderToolKeys`: every other turn sends the tool schemas with their keys reordered.
 */
export async function converse(
  client: Anthropic,
  turns: number,
  opts: { reorderToolKeys?: boolean; naive?: boolean } = {},
): Promise<Anthropic.Usage[]> {
  const system = longText(3000, "rules");
  const messages: Anthropic.MessageParam[] = [];
  const usage: Anthropic.Usage[] = [];
  for (let turn = 0; turn < turns; turn++) {
    messages.push({ role: "user", content: `Turn ${turn}: ${longText(120, `user${turn}`)}` });
    const reply = await client.messages.create({
      model: MODEL,
      max_tokens: 64,
      system,
      tools: tools(opts.reorderToolKeys === true && turn % 2 === 1),
      messages: [...messages],
      ...(opts.naive ? { cache_control: { type: "ephemeral" as const } } : {}),
    });
    usage.push(reply.usage);
    messages.push({ role: "assistant", content: reply.content });
  }
  return usage;
}

/** All input tokens of a request: uncached, read and written. */
export const promptTokens = (u: Anthropic.Usage) =>
  u.input_tokens + (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0);

/** Input cost in base-price token units at 5m prices (write 1.25, read 0.1). */
export const inputCostOf = (usage: Anthropic.Usage[]) =>
  usage.reduce(
    (s, u) =>
      s +
      u.input_tokens +
      1.25 * (u.cache_creation_input_tokens ?? 0) +
      0.1 * (u.cache_read_input_tokens ?? 0),
    0,
  );

/** Tokens read from the cache over all input tokens. */
export const hitRateOf = (usage: Anthropic.Usage[]) =>
  usage.reduce((s, u) => s + (u.cache_read_input_tokens ?? 0), 0) /
  usage.reduce((s, u) => s + promptTokens(u), 0);

/** What a reply generator gets to write the deterministic answer text. */
export interface ReplyContext {
  provider: "anthropic" | "openai" | "gemini" | "bedrock";
  model: string;
  /** Number of user turns in the conversation, counting the current one. */
  turn: number;
  /** Text of the last user message ("" when it has none). */
  lastUserText: string;
}

/** Options of `createSimulator` (all optional). */
export interface SimulatorOptions {
  /** Anthropic 5-minute TTL in seconds (default 300); lower it for fast local demos. */
  ttlSeconds?: number;
  /** Anthropic 1-hour TTL in seconds (default 3600). */
  ttl1hSeconds?: number;
  /** OpenAI in-memory retention: idle seconds before a cached prefix is evicted (default 300). */
  openaiInMemoryTtlSeconds?: number;
  /** OpenAI retention for models that support both policies when the request names none (default "in_memory"). */
  openaiDefaultRetention?: "in_memory" | "24h";
  /** OpenAI cache machines per namespace (default 16). */
  openaiMachines?: number;
  /** Machines a prompt head is spread over without `prompt_cache_key` (default 4). */
  openaiSpread?: number;
  /** Requests per minute a (head, prompt_cache_key) pair may send before it overflows (default 15). */
  openaiKeyRpmLimit?: number;
  /** Gemini implicit cache: idle seconds before a prefix is forgotten (default 300; Google documents none). */
  geminiImplicitTtlSeconds?: number;
  /** Seed of the routing PRNG (default "stoker-sim"). */
  seed?: string;
  /** Milliseconds between streamed events (default 0). */
  streamDelayMs?: number;
  /**
   * Milliseconds an Anthropic generation spends before its response starts (default 5). Its cache writes
   * become visible only then, so requests overlapping it miss the prefix it writes.
   */
  firstTokenMs?: number;
  /** Requests kept per namespace by the recorder; older ones are dropped (default 1000). */
  maxRecordedRequests?: number;
  /**
   * Body characters the recorder keeps per namespace, over its requests; older ones are dropped past it, the
   * newest always kept (default 64 Mi: 1,000 bodies of 1.8 MB would otherwise hold 1.8 GB).
   */
  maxRecordedChars?: number;
  /** Base clock in epoch ms (default `Date.now`); the namespace offset is added to it. */
  now?: () => number;
  /** Replaces the default reply text. */
  reply?: (ctx: ReplyContext) => string;
}

/** Options with every default filled in. */
export interface ResolvedOptions {
  ttl5mMs: number;
  ttl1hMs: number;
  openaiInMemoryTtlMs: number;
  openaiDefaultRetention: "in_memory" | "24h";
  openaiMachines: number;
  openaiSpread: number;
  openaiKeyRpmLimit: number;
  geminiImplicitTtlMs: number;
  seed: string;
  streamDelayMs: number;
  firstTokenMs: number;
  maxRecordedRequests: number;
  maxRecordedChars: number;
  now: () => number;
  reply: (ctx: ReplyContext) => string;
}

/** The default reply: mentions the turn number and the start of the last user message (ASCII only). */
export function defaultReply(ctx: ReplyContext): string {
  const snippet = ctx.lastUserText
    .replace(/\s+/g, " ")
    .replace(/[^\x20-\x7e]/g, "?")
    .trim()
    .slice(0, 40);
  return snippet
    ? `Simulated reply for turn ${ctx.turn} to "${snippet}".`
    : `Simulated reply for turn ${ctx.turn}.`;
}

function positive(v: number | undefined, fallback: number): number {
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : fallback;
}

/** Fills in the defaults. */
export function resolveOptions(o: SimulatorOptions = {}): ResolvedOptions {
  const machines = Math.floor(positive(o.openaiMachines, 16));
  return {
    ttl5mMs: positive(o.ttlSeconds, 300) * 1000,
    ttl1hMs: positive(o.ttl1hSeconds, 3600) * 1000,
    openaiInMemoryTtlMs: positive(o.openaiInMemoryTtlSeconds, 300) * 1000,
    openaiDefaultRetention: o.openaiDefaultRetention ?? "in_memory",
    openaiMachines: machines,
    openaiSpread: Math.min(machines, Math.floor(positive(o.openaiSpread, 4))),
    openaiKeyRpmLimit: positive(o.openaiKeyRpmLimit, 15),
    geminiImplicitTtlMs: positive(o.geminiImplicitTtlSeconds, 300) * 1000,
    seed: o.seed ?? "stoker-sim",
    streamDelayMs: o.streamDelayMs !== undefined && o.streamDelayMs > 0 ? o.streamDelayMs : 0,
    firstTokenMs: o.firstTokenMs !== undefined && o.firstTokenMs >= 0 ? o.firstTokenMs : 5,
    maxRecordedRequests: Math.floor(positive(o.maxRecordedRequests, 1000)),
    maxRecordedChars: Math.floor(positive(o.maxRecordedChars, 64 * 1024 * 1024)),
    now: o.now ?? Date.now,
    reply: o.reply ?? defaultReply,
  };
}

import { hashOf } from "../hash.ts";
import { CHUNK_TOKENS, MIN_CACHED_TOKENS, type OpenAIPrompt, type PromptBoundary } from "./prompt.ts";

/** Routing and retention knobs (from the simulator options). */
export interface OpenAICacheConfig {
  machines: number;
  spread: number;
  keyRpmLimit: number;
  ttlMs: { in_memory: number; "24h": number };
}

/** Where a request went and what it found there. */
export interface OpenAICacheResult {
  machine: number;
  cachedTokens: number;
  /** Tokens the request wrote (GPT-5.6+ breakpoints; billed). */
  writeTokens?: number;
}

/** GPT-5.6+ `prompt_cache_options.mode`. */
export type BreakpointMode = "implicit" | "explicit";

/** At most this many breakpoints are written per request, the implicit one included. */
export const MAX_BREAKPOINT_WRITES = 4;
/** GPT-5.6+ `prompt_cache_options.ttl` ("30m", the only value): the minimum lifetime of a written entry. */
export const BREAKPOINT_TTL_MS = 30 * 60_000;

/**
 * The breakpoints a GPT-5.6+ request writes (README "GPT-5.6+ breakpoints"): with mode `implicit`, one implicit
 * breakpoint at the end of the newest user/system/developer/tool message and the latest three explicit ones;
 * with `explicit`, the latest four explicit ones and nothing else.
 */
export function breakpointWrites(
  boundaries: readonly PromptBoundary[],
  mode: BreakpointMode,
): PromptBoundary[] {
  const explicit = boundaries.filter((b) => b.explicit);
  if (mode === "explicit") return explicit.slice(-MAX_BREAKPOINT_WRITES);
  const chosen = explicit.slice(-(MAX_BREAKPOINT_WRITES - 1));
  const implicit = boundaries.findLast((b) => b.implicit);
  if (implicit && !chosen.includes(implicit)) chosen.push(implicit);
  return chosen.sort((a, b) => a.tokens - b.tokens);
}

const MINUTE_MS = 60_000;
const SWEEP_AT = 200_000;

/**
 * The OpenAI cache of one namespace: several machines, each holding chunk hashes until they expire. A request
 * goes to a machine picked from its route, a hash of the prompt's head combined with `prompt_cache_key` (the
 * empty key when none is given): to the route's home machine while the route has sent at most `keyRpmLimit`
 * requests in the last minute, past that to another of its `spread` machines at random (seeded, so runs
 * repeat exactly). Source, developers.openai.com/api/docs/guides/prompt-caching, "Cache Routing": "Requests
 * are routed to a machine based on a hash of the initial prefix of the prompt. The hash typically uses the
 * first 256 tokens"; a prompt_cache_key "is combined with the prefix hash"; "If requests for the same
 * prefix and prompt_cache_key combination exceed a certain rate (approximately 15 requests per minute), some
 * may overflow and get routed to additional machines". So a keyless prompt repeated slowly stays on one
 * machine too; the key only splits one head into several routes.
 */
export class OpenAICache {
  #machines: Map<string, number>[];
  /** GPT-5.6+ entries per machine: prefix hash at a breakpoint -> expiry. */
  #breakpoints: Map<string, number>[];
  #recent = new Map<string, number[]>();
  #config: OpenAICacheConfig;
  #random: () => number;

  constructor(config: OpenAICacheConfig, random: () => number) {
    this.#config = config;
    this.#random = random;
    this.#machines = Array.from({ length: config.machines }, () => new Map<string, number>());
    this.#breakpoints = Array.from({ length: config.machines }, () => new Map<string, number>());
  }

  #route(prompt: OpenAIPrompt, key: string | undefined, now: number): number {
    const { machines, spread, keyRpmLimit } = this.#config;
    const route = hashOf(prompt.headHash, key ?? "");
    const home = Number.parseInt(route.slice(0, 8), 16) % machines;
    const overflow = () => (home + 1 + Math.floor(this.#random() * (spread - 1))) % machines;
    const recent = (this.#recent.get(route) ?? []).filter((t) => t > now - MINUTE_MS);
    recent.push(now);
    this.#recent.set(route, recent);
    return recent.length <= keyRpmLimit || spread < 2 ? home : overflow();
  }

  /** Routes a request, reads the longest cached prefix on its machine, then stores the prompt there. */
  serve(
    prompt: OpenAIPrompt,
    key: string | undefined,
    retention: "in_memory" | "24h",
    now: number,
  ): OpenAICacheResult {
    const machine = this.#route(prompt, key, now);
    const store = this.#machines[machine] ?? new Map<string, number>();
    if (prompt.tokens < MIN_CACHED_TOKENS) return { machine, cachedTokens: 0 };
    let matched = 0;
    for (const h of prompt.chunkHashes) {
      if ((store.get(h) ?? 0) <= now) break;
      matched++;
    }
    const cached = matched * CHUNK_TOKENS;
    const expires = now + this.#config.ttlMs[retention];
    if (store.size > SWEEP_AT) for (const [h, t] of store) if (t <= now) store.delete(h);
    for (const h of prompt.chunkHashes) store.set(h, Math.max(store.get(h) ?? 0, expires));
    return { machine, cachedTokens: cached >= MIN_CACHED_TOKENS ? cached : 0 };
  }

  /**
   * A GPT-5.6+ request: routed like any other, then read at the longest boundary of the prompt whose exact
   * prefix an earlier request wrote at a breakpoint on that machine (no 128-token rounding, no fallback to an
   * unmarked shorter prefix), which restarts that entry's lifetime; then each breakpoint `breakpointWrites`
   * picks past the read whose prefix reaches MIN_CACHED_TOKENS is written, and the tokens from the read to the
   * last written breakpoint are `cache_write_tokens`. Entries live `ttlMs` after their last use.
   */
  serveBreakpoints(
    prompt: OpenAIPrompt,
    key: string | undefined,
    mode: BreakpointMode,
    now: number,
    ttlMs: number = BREAKPOINT_TTL_MS,
  ): OpenAICacheResult {
    const machine = this.#route(prompt, key, now);
    const store = this.#breakpoints[machine] ?? new Map<string, number>();
    const boundaries = prompt.boundaries ?? [];
    let read = 0;
    for (let i = boundaries.length - 1; i >= 0; i--) {
      const b = boundaries[i];
      if (!b || b.tokens < MIN_CACHED_TOKENS || (store.get(b.hash) ?? 0) <= now) continue;
      store.set(b.hash, Math.max(store.get(b.hash) ?? 0, now + ttlMs));
      read = b.tokens;
      break;
    }
    let written = read;
    if (store.size > SWEEP_AT) for (const [h, t] of store) if (t <= now) store.delete(h);
    for (const b of breakpointWrites(boundaries, mode)) {
      if (b.tokens <= read || b.tokens < MIN_CACHED_TOKENS) continue;
      store.set(b.hash, now + ttlMs);
      written = Math.max(written, b.tokens);
    }
    return { machine, cachedTokens: read, writeTokens: written - read };
  }

  /** Live chunks and GPT-5.6+ breakpoint entries per machine (for `GET /__sim/cache`). */
  summary(now: number): { machine: number; chunks: number; breakpoints: number }[] {
    return this.#machines.map((m, machine) => ({
      machine,
      chunks: [...m.values()].filter((t) => t > now).length,
      breakpoints: [...(this.#breakpoints[machine]?.values() ?? [])].filter((t) => t > now).length,
    }));
  }

  clear(): void {
    for (const m of this.#machines) m.clear();
    for (const m of this.#breakpoints) m.clear();
    this.#recent.clear();
  }
}

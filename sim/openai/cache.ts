import { hashOf } from "../hash.ts";
import { CHUNK_TOKENS, MIN_CACHED_TOKENS, type OpenAIPrompt } from "./prompt.ts";

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
}

const MINUTE_MS = 60_000;
const SWEEP_AT = 200_000;

/**
 * The OpenAI cache of one namespace: several machines, each holding chunk hashes until they expire. A request
 * goes to a machine picked from its (head, prompt_cache_key) route: with a key, to the route's home machine
 * while the route stays under the per-minute limit, else to another of its `spread` machines at random;
 * without a key, to any of its `spread` machines at random (seeded, so runs repeat exactly).
 */
export class OpenAICache {
  #machines: Map<string, number>[];
  #recent = new Map<string, number[]>();
  #config: OpenAICacheConfig;
  #random: () => number;

  constructor(config: OpenAICacheConfig, random: () => number) {
    this.#config = config;
    this.#random = random;
    this.#machines = Array.from({ length: config.machines }, () => new Map<string, number>());
  }

  #route(prompt: OpenAIPrompt, key: string | undefined, now: number): number {
    const { machines, spread, keyRpmLimit } = this.#config;
    const route = hashOf(prompt.headHash, key ?? "");
    const home = Number.parseInt(route.slice(0, 8), 16) % machines;
    const pick = (from: number) => (home + from + Math.floor(this.#random() * (spread - from))) % machines;
    if (key === undefined) return pick(0);
    const recent = (this.#recent.get(route) ?? []).filter((t) => t > now - MINUTE_MS);
    recent.push(now);
    this.#recent.set(route, recent);
    return recent.length <= keyRpmLimit || spread < 2 ? home : pick(1);
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

  /** Live chunks per machine (for `GET /__sim/cache`). */
  summary(now: number): { machine: number; chunks: number }[] {
    return this.#machines.map((m, machine) => ({
      machine,
      chunks: [...m.values()].filter((t) => t > now).length,
    }));
  }

  clear(): void {
    for (const m of this.#machines) m.clear();
    this.#recent.clear();
  }
}

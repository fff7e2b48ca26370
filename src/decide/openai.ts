import type { ModelInfo } from "../economics/models.ts";
import type { Reuse } from "./reuse.ts";
import { bestTtl } from "./write.ts";

/** OpenAI routes a key to one machine; above about this many requests per minute it spreads the overflow. */
export const KEY_RATE_PER_MIN = 15;
const MAX_SHARDS = 64;

/** Keys for a family: one up to the per-key rate, then a power of two so conversations move seldom. */
export function shardCount(ratePerMin: number): number {
  if (!(ratePerMin > KEY_RATE_PER_MIN)) return 1;
  return Math.min(MAX_SHARDS, 2 ** Math.ceil(Math.log2(ratePerMin / KEY_RATE_PER_MIN)));
}

/** `prompt_cache_retention: "24h"` where the model takes it, the tenant allows it and the client set none. */
export function chooseRetention(m: ModelInfo, tenantAllows: boolean, clientSetOne: boolean): "24h" | null {
  return m.retention24h && tenantAllows && !clientSetOne ? "24h" : null;
}

/**
 * GPT-5.6+ (writes priced): whether an explicit breakpoint at the head's end pays, and whether the implicit
 * write of the newest message pays (when it does not, `mode: "explicit"` skips it).
 */
export function chooseOpenAIWrites(
  m: ModelInfo,
  head: { tokens: number; reuse: Reuse } | null,
  tail: { tokens: number; reuse: Reuse },
): { head: boolean; tail: boolean } {
  return {
    head: head !== null && bestTtl(m, head.tokens, head.reuse, false) !== null,
    tail: bestTtl(m, tail.tokens, tail.reuse, false) !== null,
  };
}

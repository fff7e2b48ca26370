import type { ModelInfo } from "../economics/models.ts";
import type { Reuse } from "./reuse.ts";
import { bestTtl } from "./write.ts";

/** OpenAI routes a key to one machine; above about this many requests per minute it spreads the overflow. */
export const KEY_RATE_PER_MIN = 15;
/**
 * Requests per minute Stoker aims to send per key: a third of the limit, for bursts (the limit counts a
 * sliding minute) and for keepalive pings, which go to the same key but are not in the family's rate. Chosen
 * on the training half of the Mooncake trace at OpenAI prices (`node bench/economics/try.ts --only mooncake
 * --prices openai --quick 2500`): aiming at 15 per key, 61 % of requests overflowed to other machines and
 * 611 of 943 pings read nothing (cost 1.194 of no caching); at 10, 10 % (0.947); at 7, 6 % (0.874); at 5,
 * none (0.833).
 */
export const KEY_TARGET_PER_MIN = 5;
const MAX_SHARDS = 64;

/** Keys for a family: one up to the per-key target, then a power of two so conversations move seldom. */
export function shardCount(ratePerMin: number): number {
  if (!(ratePerMin > KEY_TARGET_PER_MIN)) return 1;
  return Math.min(MAX_SHARDS, 2 ** Math.ceil(Math.log2(ratePerMin / KEY_TARGET_PER_MIN)));
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

import { join } from "node:path";
import type { EngineOptions } from "../../sim/gpu/engine.ts";
import { firstHalf, secondHalf } from "../economics/split.ts";
import { type BenchRequest, loadBenchTrace } from "./trace.ts";

/** The trace the routing benchmark replays, and the pool sizes it replays it on. */
export const TRACE = join(import.meta.dirname, "../data/mooncake_conversation.jsonl");
export const SIZES = [4, 8];

/** One backend: an 8B model with an FP8 KV cache on an 80 GB GPU holds about a million tokens. */
export const ENGINE: EngineOptions = {
  capacityTokens: 1_000_000,
  prefillTokensPerS: 20_000,
  decodeTokensPerS: 50,
  overheadMs: 10,
  blockTokens: 16,
};

/**
 * The trace cut where the economics benchmark cuts it (bench/economics/split.ts): constants are fitted on the
 * first half, the report shows the second. Each half is replayed on its own, from empty caches.
 */
export function loadHalves(): { training: BenchRequest[]; test: BenchRequest[] } {
  const all = loadBenchTrace(TRACE);
  return { training: firstHalf(all), test: secondHalf(all) };
}

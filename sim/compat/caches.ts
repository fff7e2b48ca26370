import { seededRandom } from "../hash.ts";
import { ChunkCache, DeepSeekCache, MarkerCache } from "./cache.ts";

const MINUTE = 60_000;

/**
 * The compat providers' caches of one namespace. TTLs where the providers publish none are short, the less
 * favourable reading: xAI "can be evicted at any time" (docs.x.ai prompt caching FAQ), Moonshot publishes no
 * lifetime, OpenRouter passes the model provider's own cache through (OpenAI's 5-10 minutes in memory).
 */
export class CompatCaches {
  deepseek = new DeepSeekCache();
  /** 128-token blocks (measured by a reseller against xAI's billing, 2026-08), 4 servers, routed by conv id. */
  xai: ChunkCache;
  /** 256-token chunks (measured on Kimi's coding endpoint); one server: Moonshot documents no routing. */
  moonshot: ChunkCache;
  openrouterAnthropic = new MarkerCache();
  /** Other models behind OpenRouter: automatic caching with sticky routing (one server), OpenAI's 1024 minimum. */
  openrouterOther: ChunkCache;

  constructor(seed: string) {
    this.xai = new ChunkCache(
      { chunkTokens: 128, minTokens: 128, ttlMs: 5 * MINUTE, servers: 4 },
      seededRandom(`${seed}\u0000xai`),
    );
    this.moonshot = new ChunkCache(
      { chunkTokens: 256, minTokens: 256, ttlMs: 5 * MINUTE, servers: 1 },
      () => 0,
    );
    this.openrouterOther = new ChunkCache(
      { chunkTokens: 128, minTokens: 1024, ttlMs: 5 * MINUTE, servers: 1 },
      () => 0,
    );
  }

  clear(): void {
    this.deepseek.clear();
    this.xai.clear();
    this.moonshot.clear();
    this.openrouterAnthropic.clear();
    this.openrouterOther.clear();
  }
}

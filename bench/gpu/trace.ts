import { readFileSync } from "node:fs";

/** Tokens per block of the Mooncake trace. */
export const TRACE_BLOCK_TOKENS = 512;
/** The simulated backends' KV block (vLLM's default). */
export const KV_BLOCK_TOKENS = 16;
/** Stoker's routing chunk in tokens (src/gpu/chunks.ts: 1,024 characters, about 256 tokens). */
export const ROUTE_CHUNK_TOKENS = 256;

/**
 * One request of the trace, expanded into what the replay needs: the keys of its 16-token KV blocks (for the
 * simulated backends) and of its 256-token routing chunks (for the routers). Trace block ids are chained (an
 * id at position k identifies the whole prefix through block k), so `id · 32 + j` identifies the prefix
 * through KV block j of that trace block, and `id · 2 + h` the prefix through its routing chunk h. Only full
 * blocks and chunks get keys, as in vLLM and src/gpu/chunks.ts.
 */
export interface BenchRequest {
  index: number;
  atMs: number;
  promptTokens: number;
  outputTokens: number;
  kvBlocks: Int32Array;
  chunks: number[];
}

interface Line {
  timestamp: number;
  input_length: number;
  output_length: number;
  hash_ids: number[];
}

/** Reads a Mooncake-format JSONL trace, in time order. */
export function loadBenchTrace(path: string): BenchRequest[] {
  const lines = readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Line);
  const perTrace = TRACE_BLOCK_TOKENS / KV_BLOCK_TOKENS;
  const perChunk = TRACE_BLOCK_TOKENS / ROUTE_CHUNK_TOKENS;
  const out = lines.map((l, index): BenchRequest => {
    const kv: number[] = [];
    const chunks: number[] = [];
    const n = l.hash_ids.length;
    l.hash_ids.forEach((id, pos) => {
      const tokens = pos < n - 1 ? TRACE_BLOCK_TOKENS : l.input_length - TRACE_BLOCK_TOKENS * (n - 1);
      const fullKv = Math.min(perTrace, Math.floor(tokens / KV_BLOCK_TOKENS));
      for (let j = 0; j < fullKv; j++) kv.push(id * perTrace + j);
      const fullChunks = Math.min(perChunk, Math.floor(tokens / ROUTE_CHUNK_TOKENS));
      for (let h = 0; h < fullChunks; h++) chunks.push(id * perChunk + h);
    });
    return {
      index,
      atMs: l.timestamp,
      promptTokens: l.input_length,
      outputTokens: Math.max(1, l.output_length),
      kvBlocks: Int32Array.from(kv),
      chunks,
    };
  });
  return out.sort((a, b) => a.atMs - b.atMs || a.index - b.index);
}

/** Tokens per block of the Mooncake trace. */
export const BLOCK_TOKENS = 512;

/** One request of the trace: its time and the ids of its 512-token blocks, in prompt order. */
export interface TraceRequest {
  index: number;
  atMs: number;
  ids: Int32Array;
  inputTokens: number;
  outputTokens: number;
  /** Leading blocks wholly inside the stable head (tools + system), when the source knows it (body logs). */
  headBlocks?: number;
  /** Position of the first block that belongs to the conversation alone, when the source knows it. */
  rootBlock?: number;
  /**
   * How the model's answer to this request ended, when the workload says (a tool call the client runs, or a
   * reply to a person): the model's choice, which the simulator cannot make, so the trace makes it.
   */
  answer?: "tool" | "reply";
}

/** A loaded trace, with per-block facts that do not depend on the request (ids are chained, see bench/data). */
export interface Trace {
  requests: TraceRequest[];
  /** Last timestamp: lapses before it are charged. */
  endMs: number;
  totalInputTokens: number;
  /** One past the largest block id. */
  blockCount: number;
  /** Tokens of each block (the last block of a prompt may be partial). */
  blockTokens: Int32Array;
  /** Position of each block in any prompt that holds it (a chained id always sits at the same position). */
  blockPosition: Int32Array;
}

/** One line of a Mooncake-format trace (the synthetic workloads of synthetic.ts produce these too). */
export interface TraceLine {
  timestamp: number;
  input_length: number;
  output_length: number;
  hash_ids: number[];
  /** Not in Mooncake traces: what bench/replay derives from request bodies (see TraceRequest). */
  head_blocks?: number;
  root_block?: number;
  /** Not in Mooncake traces: how the answer ended (synthetic agent workloads; see TraceRequest). */
  answer?: "tool" | "reply";
}

/** Builds a trace from parsed lines (block ids chained: a shared leading run of ids is a shared prefix). */
export function traceFromLines(parsed: readonly TraceLine[]): Trace {
  let blockCount = 0;
  for (const l of parsed) for (const id of l.hash_ids) blockCount = Math.max(blockCount, id + 1);
  const blockTokens = new Int32Array(blockCount);
  const blockPosition = new Int32Array(blockCount);
  let totalInputTokens = 0;
  const requests = parsed.map((l, index): TraceRequest => {
    const n = l.hash_ids.length;
    l.hash_ids.forEach((id, pos) => {
      blockTokens[id] = pos < n - 1 ? BLOCK_TOKENS : l.input_length - BLOCK_TOKENS * (n - 1);
      blockPosition[id] = pos;
    });
    totalInputTokens += l.input_length;
    const req: TraceRequest = {
      index,
      atMs: l.timestamp,
      ids: Int32Array.from(l.hash_ids),
      inputTokens: l.input_length,
      outputTokens: l.output_length,
    };
    if (l.head_blocks !== undefined) req.headBlocks = l.head_blocks;
    if (l.root_block !== undefined) req.rootBlock = l.root_block;
    if (l.answer !== undefined) req.answer = l.answer;
    return req;
  });
  requests.sort((a, b) => a.atMs - b.atMs || a.index - b.index);
  const endMs = requests.at(-1)?.atMs ?? 0;
  return { requests, endMs, totalInputTokens, blockCount, blockTokens, blockPosition };
}

/** Tokens of a prompt through block position `pos` (inclusive). */
export function tokensThrough(trace: Trace, id: number): number {
  return BLOCK_TOKENS * (trace.blockPosition[id] ?? 0) + (trace.blockTokens[id] ?? 0);
}

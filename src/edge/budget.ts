import { MAX_CHAIN_SEGMENTS } from "../tracker/validate.ts";
import type { Prepared, PrepareInput } from "./prepare.ts";
import { SHALLOW_MAX_VALUE_BYTES, type ShallowBody, splice } from "./shallow-json.ts";

/**
 * Blocks a request may have and still be analyzed: the tracker keeps no chain longer than this, so analyzing
 * a longer one would cost memory for a summary that is dropped.
 */
export const ANALYSIS_MAX_BLOCKS = MAX_CHAIN_SEGMENTS;

export type OverBudget = "bytes" | "blocks";

/** Countable blocks of a prompt, cheaply, from the parsed body (tools, system blocks, messages and their parts). */
export function countBlocks(body: Record<string, unknown>, limit: number): number {
  let n = 0;
  const arrays = [body.tools, body.system, body.messages, body.input];
  for (const a of arrays) {
    if (!Array.isArray(a)) continue;
    n += a.length;
    for (const item of a) {
      const content = (item as { content?: unknown } | null)?.content;
      if (Array.isArray(content)) n += content.length;
      if (n > limit) return n;
    }
  }
  return n;
}

/**
 * Whether a request is over the analysis budget: above `maxBytes` of body or ANALYSIS_MAX_BLOCKS blocks, it is
 * forwarded unchanged and accounted from the provider's usage. Analysis holds about ten times the body in
 * memory; an isolate's 128 MB serves every tenant's requests, so one large body must not take it.
 */
export function overAnalysisBudget(
  raw: string,
  body: Record<string, unknown>,
  maxBytes: number,
): OverBudget | null {
  // UTF-16 code units: at most the UTF-8 byte count, and what the isolate holds the string as.
  if (raw.length > maxBytes) return "bytes";
  if (countBlocks(body, ANALYSIS_MAX_BLOCKS) > ANALYSIS_MAX_BLOCKS) return "blocks";
  return null;
}

/** In place of `prepare` over the budget: the request goes as the client sent it, with no analysis or plan. */
export async function skipAnalysis(input: PrepareInput): Promise<Prepared> {
  return { body: input.raw, analysis: null, plan: null, planText: null, positions: [] };
}

/**
 * Over the budget, a Chat Completions stream still asks for its usage chunk (the request is accounted from
 * it): `stream_options.include_usage: true` spliced into the bytes, the rest untouched. A stream_options too
 * large to have been read is left as it is (the stream then goes unaccounted, as the client sent it).
 */
export function requestStreamUsageBytes(read: ShallowBody & { bytes: Uint8Array }): Uint8Array {
  const span = read.spans.get("stream_options");
  if (!span)
    return splice(
      read.bytes,
      { start: read.open, end: read.open },
      '"stream_options":{"include_usage":true},',
    );
  if (span.end - span.start > SHALLOW_MAX_VALUE_BYTES) return read.bytes;
  const options = read.body.stream_options;
  if (options !== null && (typeof options !== "object" || Array.isArray(options))) return read.bytes;
  return splice(read.bytes, span, JSON.stringify({ ...(options ?? {}), include_usage: true }));
}

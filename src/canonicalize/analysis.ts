import type { TokenizerFamily } from "../economics/models.ts";
import { ChainWriter, chainRoot } from "../prefix/chain.ts";
import { SegmentList } from "../prefix/segments.ts";
import type {
  Analysis,
  AnalyzeInput,
  CacheTtl,
  CanonicalEdit,
  OpenAIClientCache,
  Upstream,
} from "../prefix/types.ts";
import { BlockSegments } from "./block-segments.ts";
import { feedTextBlock } from "./feed.ts";
import { type Json, lf } from "./json.ts";
import type { CanonicalizeRules, RuleName } from "./rules.ts";
import {
  type CanonicalTools,
  canonicalTools,
  type DigestPlan,
  digestPlan,
  type MessageShape,
  RECENT_MESSAGE_DIGESTS,
} from "./shared.ts";
import { splitVolatileLines } from "./volatile.ts";

/** What every analyzer builds up while it feeds the chain, and turns into its Analysis at the end. */
export interface AnalysisState {
  readonly upstream: Upstream;
  readonly model: string;
  readonly raw: string;
  readonly h0: string;
  readonly writer: ChainWriter;
  readonly segs: SegmentList;
  readonly applied: Set<RuleName>;
  readonly edits: CanonicalEdit[];
  readonly plan: DigestPlan;
  /** Segment index of each message block (by blockKey), to find the previous turn's end. */
  readonly segmentOf: BlockSegments;
  /** Volatile lines taken out of the head (volatileToTail), to append to the last user message. */
  moved: string | null;
}

/** Starts the chain at h0 (`params`: what changes the cache from the tools level down). */
export function startAnalysis(
  input: AnalyzeInput,
  upstream: Upstream,
  model: string,
  params: string,
  shapes: readonly MessageShape[],
): AnalysisState {
  const plan = digestPlan(shapes, RECENT_MESSAGE_DIGESTS);
  const h0 = chainRoot(input.salt, upstream, model, params);
  const writer = new ChainWriter(h0);
  return {
    upstream,
    model,
    raw: input.raw,
    h0,
    writer,
    segs: new SegmentList(writer),
    applied: new Set(),
    edits: [],
    plan,
    segmentOf: BlockSegments.empty(),
    moved: null,
  };
}

/** canonicalTools, with its rules and its edit recorded. */
export function adoptTools(
  s: AnalysisState,
  tools: readonly Json[],
  rules: CanonicalizeRules,
  schemaPath: readonly string[],
  clientMarked: (tool: Json) => boolean,
): CanonicalTools {
  const canon = canonicalTools(tools, rules, schemaPath, clientMarked);
  for (const r of canon.applied) s.applied.add(r);
  if (canon.value) s.edits.push({ path: ["tools"], value: canon.value });
  return canon;
}

/**
 * A head text (system prompt, instructions, head message) under the lineEndings rule and, where `mayMove`
 * and nothing was moved yet, volatileToTail; the edit goes to `path` when the text changed.
 */
export function headText(
  s: AnalysisState,
  original: string,
  path: readonly (string | number)[],
  lineEndings: boolean,
  mayMove: boolean,
): string {
  let text = lineEndings ? lf(original) : original;
  if (text !== original) s.applied.add("lineEndings");
  const split = mayMove && s.moved === null ? splitVolatileLines(text) : null;
  if (split) {
    text = split.kept;
    s.moved = split.moved;
  }
  if (text !== original) s.edits.push({ path, value: text });
  return text;
}

export interface Head {
  /** Index of the last head segment, or -1. */
  headEnd: number;
  /** The family hash: the chain through the head. */
  family: string;
  /** Client markers in the head (tools, system). */
  breakpoints: number;
}

/** Ends the head (tools, system or instructions, head messages). */
export function closeHead(s: AnalysisState): Head {
  if (s.moved !== null) s.applied.add("volatileToTail");
  const headEnd = s.segs.list.length - 1;
  const family = headEnd >= 0 ? (s.segs.list[headEnd]?.hash ?? s.writer.digest()) : s.writer.digest();
  return { headEnd, family, breakpoints: s.segs.clientBreakpoints.length };
}

/** Feeds the moved volatile lines as a text block appended to message `i` (its edit is the caller's). */
export function feedMovedText(
  s: AnalysisState,
  moved: string,
  i: number,
  role: string,
  textType: string,
  family: TokenizerFamily,
): void {
  const tokens = feedTextBlock(s.writer, moved, textType, family);
  s.segs.add("message", { area: "messages", index: i, inserted: true }, textType, tokens, false, false, {
    role,
  });
}

export function finishAnalysis(
  s: AnalysisState,
  head: Head,
  conversation: string,
  autoCache: CacheTtl | null,
  openai?: OpenAIClientCache,
): Analysis {
  return {
    upstream: s.upstream,
    model: s.model,
    raw: s.raw,
    h0: s.h0,
    family: head.family,
    conversation,
    headEnd: head.headEnd,
    segments: s.segs.list,
    candidates: s.segs.candidates(),
    clientBreakpoints: s.segs.clientBreakpoints,
    autoCache,
    // Anthropic analyses have no `openai` key at all.
    ...(openai ? { openai } : {}),
    canonical: { changed: s.edits.length > 0, applied: [...s.applied], edits: s.edits },
    totalTokens: s.segs.totalTokens,
    continues: s.plan.continues,
    previousTurnEnd: s.segmentOf.get(s.plan.previousTurnEnd) ?? -1,
  };
}

import { hasVolatileSpan, redactedExcerpt } from "../canonicalize/volatile.ts";
import type { Analysis, SegmentLoc } from "../prefix/types.ts";
import type { SegmentExcerpt } from "../tracker/types.ts";

/** At most this many excerpts per request: a report needs the first few busters, not all of them. */
const MAX_EXCERPTS = 3;
const MAX_DEPTH = 6;

/**
 * Redacted excerpts of the tools/system segments that hold a volatile span (a date, a UUID…), for the
 * cache-buster report. Runs after the response (in the deferred record) and parses the body only when the
 * analysis flagged such a segment, which a well-built prompt never has.
 */
export function volatileExcerpts(analysis: Analysis): SegmentExcerpt[] {
  const flagged = analysis.segments.flatMap((s, i) => (s.volatile ? [{ i, loc: s.loc }] : []));
  if (flagged.length === 0) return [];
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(analysis.raw) as Record<string, unknown>;
  } catch {
    return [];
  }
  const out: SegmentExcerpt[] = [];
  for (const { i, loc } of flagged.slice(0, MAX_EXCERPTS)) {
    const text = firstVolatileString(nodeAt(body, loc), 0);
    const excerpt = text === null ? null : redactedExcerpt(text);
    if (excerpt) out.push({ segment: i, excerpt });
  }
  return out;
}

function nodeAt(body: Record<string, unknown>, loc: SegmentLoc): unknown {
  const pick = (v: unknown) => (loc.index >= 0 && Array.isArray(v) ? v[loc.index] : v);
  if (loc.area === "tools") return pick(body.tools);
  if (loc.area === "system") return pick(body.system ?? body.instructions);
  return pick(body.messages ?? body.input);
}

function firstVolatileString(v: unknown, depth: number): string | null {
  if (typeof v === "string") return hasVolatileSpan(v) ? v : null;
  if (depth >= MAX_DEPTH || v === null || typeof v !== "object") return null;
  for (const child of Array.isArray(v) ? v : Object.values(v)) {
    const found = firstVolatileString(child, depth + 1);
    if (found !== null) return found;
  }
  return null;
}

import { hasVolatileSpan, redactedExcerpt } from "../canonicalize/volatile.ts";
import type { Analysis, SegmentLoc } from "../prefix/types.ts";
import type { SegmentExcerpt } from "../tracker/types.ts";
import { PathSpans } from "../upstream/body/scan.ts";

/** At most this many excerpts per request: a report needs the first few busters, not all of them. */
const MAX_EXCERPTS = 3;
const MAX_DEPTH = 6;

/**
 * Redacted excerpts of the tools/system segments that hold a volatile span (a date, a UUID…), for the
 * cache-buster report. Runs after the response (in the deferred record) and reads the body only when the
 * analysis flagged such a segment, which a well-built prompt never has; then one structural scan finds the
 * flagged values and only those are parsed, not the whole body again.
 */
export function volatileExcerpts(analysis: Analysis): SegmentExcerpt[] {
  const flagged = analysis.segments.flatMap((s, i) => (s.volatile ? [{ i, loc: s.loc }] : []));
  if (flagged.length === 0) return [];
  const picked = flagged.slice(0, MAX_EXCERPTS);
  let nodes: unknown[];
  try {
    const body = new PathSpans(
      analysis.raw,
      picked.flatMap(({ loc }) => pathsOf(loc)),
      [],
    );
    nodes = picked.map(({ loc }) => nodeAt(analysis.raw, body, loc));
  } catch {
    return [];
  }
  const out: SegmentExcerpt[] = [];
  picked.forEach(({ i }, k) => {
    const text = firstVolatileString(nodes[k], 0);
    const excerpt = text === null ? null : redactedExcerpt(text);
    if (excerpt) out.push({ segment: i, excerpt });
  });
  return out;
}

/** The body keys a segment's value may sit under, in order of preference (`system ?? instructions`). */
function keysOf(loc: SegmentLoc): readonly string[] {
  if (loc.area === "tools") return ["tools"];
  if (loc.area === "system") return ["system", "instructions"];
  return ["messages", "input"];
}

function pathsOf(loc: SegmentLoc): (string | number)[][] {
  return keysOf(loc).flatMap((k) => (loc.index >= 0 ? [[k], [k, loc.index]] : [[k]]));
}

// body[key] ?? body[next key], then its item `loc.index` when it is an array: as a parsed body would give.
function nodeAt(raw: string, body: PathSpans, loc: SegmentLoc): unknown {
  for (const k of keysOf(loc)) {
    const span = body.span([k]);
    if (span === null || raw.startsWith("null", span.start)) continue;
    if (loc.index < 0 || raw.charCodeAt(span.start) !== 91) return parse(raw, span);
    const item = body.span([k, loc.index]);
    return item === null ? undefined : parse(raw, item);
  }
  return undefined;
}

function parse(raw: string, span: { start: number; end: number }): unknown {
  return JSON.parse(raw.slice(span.start, span.end));
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

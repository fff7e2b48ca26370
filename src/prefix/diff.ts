import type { Analysis, Segment, SegmentKind } from "./types.ts";

/**
 * What the tracker keeps of a request's chain to diagnose the next one: a character per segment and the few
 * hashes. Columns, not an object per segment: a 100K-token request's 500 segments cost the record's RPC,
 * the tracker's validation and its stored JSON a short string and one array of numbers, not 500 objects
 * (0.45-0.6 of the record's 0.6-0.85 ms to clone in workerd).
 */
export interface ChainSummary {
  h0: string;
  family: string;
  /** Segment i's kind and type: `shapes[layout.charCodeAt(i) - SHAPE_BASE]`. */
  layout: string;
  /** The distinct shapes `layout` names, each `${kind} ${type}`. */
  shapes: string[];
  /** Segment i's message (or input item) index; -1 for segments outside the messages. */
  messages: number[];
  /** The segments with a chain hash, ascending, and their hashes. */
  hashed: number[];
  hashes: string[];
  /** The segments with a volatile span, ascending. */
  volatile: number[];
}

/** The character code of `shapes[0]` in a layout (a printable one; JSON keeps it as it is). */
export const SHAPE_BASE = 0x30;
/** Shapes a summary names at most (kinds times block types). */
export const MAX_SHAPES = 256;

/** Where a request stopped matching the previous one of its family, and what kind of change it was. */
export interface ChainDiff {
  /** First segment that differs, or the first after the last one proven equal. */
  index: number;
  kind: "model" | "tools" | "system" | "params" | "message" | "truncated";
  /** The segment at `index` is proven to differ (not just somewhere up to the next hashed position). */
  exact: boolean;
  /** A date, time, UUID or id-like span sits in the changed tools/system segments: a likely cache-buster. */
  volatile: boolean;
  message?: number;
  previousLength: number;
  currentLength: number;
}

/** The summary of an analysis. */
export function summarizeChain(a: Analysis): ChainSummary {
  const shapes: string[] = [];
  // Per kind, per type: no string made per segment (a 100K-token request has 500).
  const codes = new Map<SegmentKind, Map<string, number>>();
  const n = a.segments.length;
  const layoutCodes = new Uint16Array(n);
  const messages: number[] = new Array(n);
  const hashed: number[] = [];
  const hashes: string[] = [];
  const volatile: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = a.segments[i] as Segment;
    let byType = codes.get(s.kind);
    if (!byType) {
      byType = new Map();
      codes.set(s.kind, byType);
    }
    let code = byType.get(s.type);
    if (code === undefined) {
      code = shapes.length;
      byType.set(s.type, code);
      shapes.push(`${s.kind} ${s.type}`);
    }
    layoutCodes[i] = SHAPE_BASE + code;
    messages[i] = s.kind === "message" ? s.loc.index : -1;
    if (s.hash !== undefined) {
      hashed.push(i);
      hashes.push(s.hash);
    }
    if (s.volatile) volatile.push(i);
  }
  return {
    h0: a.h0,
    family: a.family,
    layout: fromCodes(layoutCodes),
    shapes,
    messages,
    hashed,
    hashes,
    volatile,
  };
}

/** The string of `codes`, a few thousand characters per call (spread arguments have a limit). */
function fromCodes(codes: Uint16Array): string {
  let out = "";
  for (let i = 0; i < codes.length; i += 4096)
    out += String.fromCharCode(...codes.subarray(i, Math.min(i + 4096, codes.length)));
  return out;
}

/** Segment i's `${kind} ${type}`, or undefined past the chain's end. */
function shapeAt(c: ChainSummary, i: number): string | undefined {
  return i < c.layout.length ? c.shapes[c.layout.charCodeAt(i) - SHAPE_BASE] : undefined;
}

const KIND: Record<SegmentKind, ChainDiff["kind"]> = {
  tool: "tools",
  system: "system",
  params: "params",
  message: "message",
};

/**
 * The first divergence between two chains, or null when `current` equals `previous` or extends it.
 * Hashes exist only at some positions, so the divergence is pinned between the last equal hash and the
 * first different one, then to the first segment whose kind or type changed in that range.
 */
export function diffChains(previous: ChainSummary, current: ChainSummary): ChainDiff | null {
  const p = previous;
  const c = current;
  const base = { previousLength: p.layout.length, currentLength: c.layout.length };
  if (p.h0 !== c.h0) return { index: 0, kind: "model", exact: true, volatile: false, ...base };
  const n = Math.min(p.layout.length, c.layout.length);
  let lastEqual = -1;
  let firstDiff = -1;
  // The positions both hashed, in order.
  for (let i = 0, j = 0; i < p.hashed.length && j < c.hashed.length; ) {
    const a = p.hashed[i] as number;
    const b = c.hashed[j] as number;
    if (a >= n || b >= n) break;
    if (a < b) i++;
    else if (b < a) j++;
    else if (p.hashes[i] === c.hashes[j]) {
      lastEqual = a;
      i++;
      j++;
    } else {
      firstDiff = a;
      break;
    }
  }
  let index = -1;
  for (let i = lastEqual + 1; i < (firstDiff >= 0 ? firstDiff + 1 : n); i++) {
    if (shapeAt(p, i) !== shapeAt(c, i)) {
      index = i;
      break;
    }
  }
  if (index < 0 && firstDiff >= 0) index = lastEqual + 1;
  if (index < 0) {
    if (c.layout.length >= p.layout.length) return null;
    return { index: c.layout.length, kind: "truncated", exact: false, volatile: false, ...base };
  }
  const from = index < c.layout.length ? c : index < p.layout.length ? p : null;
  const shape = from ? shapeAt(from, index) : undefined;
  const until = Math.max(index, firstDiff);
  const inRange = (list: readonly number[]) => list.some((v) => v > lastEqual && v <= until);
  const kind = shape?.slice(0, shape.indexOf(" ")) as SegmentKind | undefined;
  const diff: ChainDiff = {
    index,
    kind: kind ? KIND[kind] : "truncated",
    exact: index === firstDiff || shapeAt(p, index) !== shapeAt(c, index),
    volatile: inRange(c.volatile) || inRange(p.volatile),
    ...base,
  };
  const message = from?.messages[index];
  if (kind === "message" && message !== undefined) diff.message = message;
  return diff;
}

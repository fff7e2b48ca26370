import type { Analysis, SegmentKind } from "./types.ts";

/** What the tracker keeps of a request's chain to diagnose the next one (a few bytes per segment). */
export interface ChainSummary {
  h0: string;
  family: string;
  segments: SummarySegment[];
}

export interface SummarySegment {
  kind: SegmentKind;
  type: string;
  /** Message (or input item) index, for message segments. */
  message?: number;
  hash?: string;
  volatile?: true;
}

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
  return {
    h0: a.h0,
    family: a.family,
    segments: a.segments.map((s) => {
      const out: SummarySegment = { kind: s.kind, type: s.type };
      if (s.kind === "message") out.message = s.loc.index;
      if (s.hash !== undefined) out.hash = s.hash;
      if (s.volatile) out.volatile = true;
      return out;
    }),
  };
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
  const p = previous.segments;
  const c = current.segments;
  const base = { previousLength: p.length, currentLength: c.length };
  if (previous.h0 !== current.h0) return { index: 0, kind: "model", exact: true, volatile: false, ...base };
  const n = Math.min(p.length, c.length);
  let lastEqual = -1;
  let firstDiff = -1;
  for (let i = 0; i < n; i++) {
    const ph = p[i]?.hash;
    const ch = c[i]?.hash;
    if (ph === undefined || ch === undefined) continue;
    if (ph === ch) lastEqual = i;
    else {
      firstDiff = i;
      break;
    }
  }
  let index = -1;
  for (let i = lastEqual + 1; i < (firstDiff >= 0 ? firstDiff + 1 : n); i++) {
    if (p[i]?.kind !== c[i]?.kind || p[i]?.type !== c[i]?.type) {
      index = i;
      break;
    }
  }
  if (index < 0 && firstDiff >= 0) index = lastEqual + 1;
  if (index < 0) {
    if (c.length >= p.length) return null;
    return { index: c.length, kind: "truncated", exact: false, volatile: false, ...base };
  }
  const seg = c[index] ?? p[index];
  let volatile = false;
  for (let i = lastEqual + 1; i <= Math.max(index, firstDiff); i++)
    if (c[i]?.volatile || p[i]?.volatile) volatile = true;
  const diff: ChainDiff = {
    index,
    kind: seg ? KIND[seg.kind] : "truncated",
    exact: index === firstDiff || p[index]?.kind !== c[index]?.kind || p[index]?.type !== c[index]?.type,
    volatile,
    ...base,
  };
  if (seg?.message !== undefined) diff.message = seg.message;
  return diff;
}

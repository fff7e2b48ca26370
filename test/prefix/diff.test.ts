import { describe, expect, it } from "vitest";
import { mulberry32 } from "../../bench/economics/synthetic.ts";
import {
  type ChainDiff,
  type ChainSummary,
  diffChains,
  SHAPE_BASE,
  summarizeChain,
} from "../../src/prefix/diff.ts";
import type { Analysis } from "../../src/prefix/types.ts";

/** One segment as summaries held it before they were columns. */
interface Seg {
  kind: "tool" | "system" | "params" | "message";
  type: string;
  message?: number;
  hash?: string;
  volatile?: true;
}

const KIND = { tool: "tools", system: "system", params: "params", message: "message" } as const;

/** The divergence as it was found over an object per segment: what the columns must give. */
function reference(
  previous: { h0: string; segs: Seg[] },
  current: { h0: string; segs: Seg[] },
): ChainDiff | null {
  const p = previous.segs;
  const c = current.segs;
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

/** The columns of `segs` (shapes numbered in order of first use, as summarizeChain numbers them). */
function columns(h0: string, segs: Seg[]): ChainSummary {
  const shapes: string[] = [];
  let layout = "";
  for (const s of segs) {
    const shape = `${s.kind} ${s.type}`;
    if (!shapes.includes(shape)) shapes.push(shape);
    layout += String.fromCharCode(SHAPE_BASE + shapes.indexOf(shape));
  }
  const hashed = segs.flatMap((s, i) => (s.hash === undefined ? [] : [i]));
  return {
    h0,
    family: "f",
    layout,
    shapes,
    messages: segs.map((s) => s.message ?? -1),
    hashed,
    hashes: hashed.map((i) => segs[i]?.hash as string),
    volatile: segs.flatMap((s, i) => (s.volatile ? [i] : [])),
  };
}

describe("diffChains over columns (prefix/diff.ts)", () => {
  it("finds exactly the divergence the per-segment search found, on 3,000 seeded pairs", () => {
    const r = mulberry32(20261204);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
    const segment = (i: number, salt: string): Seg => {
      const kind = i < 2 ? "system" : i === 2 ? "params" : pick(["message", "message", "tool"] as const);
      const seg: Seg = { kind, type: pick(["text", "tool_use", "tool_result", "image"]) };
      if (kind === "message") seg.message = r() < 0.1 ? -1 : i - 3;
      if (r() < 0.4) seg.hash = `h${i}${salt}`;
      if (r() < 0.1) seg.volatile = true;
      return seg;
    };
    let found = 0;
    for (let k = 0; k < 3000; k++) {
      const prev = Array.from({ length: 1 + Math.floor(r() * 30) }, (_, i) => segment(i, ""));
      // The next request: the same through a point, then changed segments (other hashes, kinds, types), longer or shorter.
      const keep = Math.floor(r() * (prev.length + 1));
      const next = [
        ...prev.slice(0, keep).map((s) => (r() < 0.05 ? { ...s, hash: undefined } : s)),
        ...Array.from({ length: Math.floor(r() * 30) }, (_, i) => segment(keep + i, r() < 0.5 ? "x" : "")),
      ].map((s) => (s.hash === undefined ? (({ hash: _, ...rest }) => rest)(s) : s));
      const h0 = r() < 0.03 ? "other" : "h0";
      const expected = reference({ h0: "h0", segs: prev }, { h0, segs: next });
      expect(diffChains(columns("h0", prev), columns(h0, next))).toEqual(expected);
      if (expected && expected.kind !== "model" && expected.kind !== "truncated") found++;
    }
    // Most pairs diverge somewhere inside: the search is exercised, not only its early exits.
    expect(found).toBeGreaterThan(1500);
  });
});

describe("summarizeChain (prefix/diff.ts)", () => {
  it("gives each segment's kind, type, message, hash and volatility back, past the chunked layout's 4,096", () => {
    const r = mulberry32(20261205);
    const kinds = ["tool", "system", "params", "message"] as const;
    const segments = Array.from({ length: 9000 }, (_, i) => {
      const kind = kinds[Math.floor(r() * 4)] as (typeof kinds)[number];
      return {
        kind,
        type: `t${Math.floor(r() * 12)}`,
        loc: { index: i % 777 },
        ...(r() < 0.3 ? { hash: `h${i}` } : {}),
        ...(r() < 0.1 ? { volatile: true } : {}),
      };
    });
    const s = summarizeChain({ h0: "h0", family: "f", segments } as unknown as Analysis);
    expect(s.layout.length).toBe(segments.length);
    expect(s.shapes.length).toBe(new Set(segments.map((g) => `${g.kind} ${g.type}`)).size);
    segments.forEach((g, i) => {
      expect(s.shapes[s.layout.charCodeAt(i) - SHAPE_BASE]).toBe(`${g.kind} ${g.type}`);
      expect(s.messages[i]).toBe(g.kind === "message" ? g.loc.index : -1);
    });
    expect(s.hashed).toEqual(segments.flatMap((g, i) => (g.hash ? [i] : [])));
    expect(s.hashes).toEqual(segments.flatMap((g) => (g.hash ? [g.hash] : [])));
    expect(s.volatile).toEqual(segments.flatMap((g, i) => (g.volatile ? [i] : [])));
    // Kinds that share a type are distinct shapes.
    expect(new Set(s.shapes).size).toBe(s.shapes.length);
  });
});

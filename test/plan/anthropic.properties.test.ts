import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { analyzeAnthropic, DEFAULT_RULES, NO_RULES } from "../../src/canonicalize/index.ts";
import { keysSorted } from "../../src/canonicalize/json.ts";
import { MAX_BREAKPOINTS, planAnthropic } from "../../src/plan/index.ts";
import type { AnthropicPlan, PlanContext, PrefixState } from "../../src/plan/types.ts";
import type { Analysis } from "../../src/prefix/types.ts";
import { renderAnthropic } from "../../src/upstream/body/index.ts";
import { anthropicBody } from "../support/arbitraries.ts";

type Json = Record<string, unknown>;
const SALT = "tenant-secret";
const NO_PLAN: AnthropicPlan = {
  upstream: "anthropic",
  breakpoints: [],
  clientBreakpoints: 0,
  autoCache: false,
  expected: { readTokens: 0, writeTokens: 0 },
  notes: [],
};

function analyze(body: Json, rules = DEFAULT_RULES): Analysis {
  return analyzeAnthropic({ raw: JSON.stringify(body), body, salt: SALT, rules });
}

function reanalyze(raw: string, rules = DEFAULT_RULES): Analysis {
  return analyzeAnthropic({ raw, body: JSON.parse(raw) as Json, salt: SALT, rules });
}

const lfDeep = (v: unknown): unknown =>
  typeof v === "string"
    ? v.replaceAll("\r\n", "\n")
    : Array.isArray(v)
      ? v.map(lfDeep)
      : v && typeof v === "object"
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, lfDeep(x)]))
        : v;

/** The documented default rules applied to a parsed body (key order is invisible to toEqual). */
function expectedCanonical(body: Json): Json {
  const out: Json = { ...body };
  if (Array.isArray(body.tools)) {
    const tools = body.tools as Json[];
    const marked = tools.some((t) => t.cache_control != null);
    const sorted = marked
      ? tools
      : [...tools].sort((a, b) =>
          String(a.name) < String(b.name) ? -1 : String(a.name) > String(b.name) ? 1 : 0,
        );
    out.tools = lfDeep(sorted);
  }
  if (typeof body.system === "string") out.system = lfDeep(body.system);
  else if (Array.isArray(body.system))
    out.system = (body.system as Json[]).map((b) => ({ ...b, text: lfDeep(b.text) }));
  return out;
}

interface Mark {
  ttl: string;
  type: string;
  empty: boolean;
}

/** Cache markers of a body in prompt order (tools, system, messages, nested tool_result blocks). */
function markersInOrder(body: Json): Mark[] {
  const out: Mark[] = [];
  const visit = (b: unknown) => {
    if (!b || typeof b !== "object") return;
    const block = b as Json;
    if (block.type === "tool_result" && Array.isArray(block.content)) block.content.forEach(visit);
    const cc = block.cache_control as Json | undefined;
    if (cc)
      out.push({
        ttl: cc.ttl === "1h" ? "1h" : "5m",
        type: String(block.type ?? "tool"),
        empty: block.text === "",
      });
  };
  (body.tools as unknown[] | undefined)?.forEach(visit);
  if (Array.isArray(body.system)) body.system.forEach(visit);
  for (const m of body.messages as Json[]) if (Array.isArray(m.content)) m.content.forEach(visit);
  return out;
}

const ctxArb: fc.Arbitrary<PlanContext> = fc.record({
  nowMs: fc.constant(1_000_000),
  tenant: fc.record({ allowRetention24h: fc.boolean(), allow1h: fc.boolean() }),
  familyRatePerMin: fc.constantFrom(0, 0.05, 1, 40),
});

function knownFor(a: Analysis, picks: readonly number[]): Map<string, PrefixState> {
  const known = new Map<string, PrefixState>();
  const hashes = a.candidates;
  picks.forEach((p, i) => {
    const h = hashes[p % Math.max(hashes.length, 1)];
    if (h === undefined) return;
    const warm = i % 2 === 0;
    known.set(h, {
      tokens: 5000,
      seen: 1 + (p % 5),
      lastSeenMs: 900_000,
      cachedUntilMs: warm ? 1_200_000 : 500_000,
      ttl: p % 3 === 0 ? "1h" : "5m",
      gaps: { count: p % 4, within5m: p % 3 === 0 ? 0 : p % 4, within1h: p % 4 },
    });
  });
  return known;
}

describe("Anthropic canonicalization (properties)", () => {
  it("is idempotent and returns the raw body when nothing changes", () => {
    fc.assert(
      fc.property(anthropicBody, (body) => {
        const once = renderAnthropic(analyze(body), NO_PLAN);
        const again = reanalyze(once);
        expect(again.canonical.changed).toBe(false);
        expect(renderAnthropic(again, NO_PLAN)).toBe(once);
      }),
      { numRuns: 150 },
    );
  });

  it("preserves meaning: the canonical body parses to the original modulo the documented rules", () => {
    fc.assert(
      fc.property(anthropicBody, (body) => {
        const out = JSON.parse(renderAnthropic(analyze(body), NO_PLAN)) as Json;
        expect(out).toEqual(expectedCanonical(body));
        for (const t of (out.tools as Json[] | undefined) ?? [])
          expect(keysSorted(t.input_schema)).toBe(true);
        for (const m of out.messages as Json[]) {
          if (!Array.isArray(m.content)) continue;
          for (const b of m.content as Json[])
            if (b.type === "tool_use") expect(keysSorted(b.input)).toBe(true);
        }
        expect(JSON.parse(renderAnthropic(analyze(body, NO_RULES), NO_PLAN))).toEqual(body);
      }),
      { numRuns: 150 },
    );
  });

  it("hashes a prefix of a request as a prefix of its chain", () => {
    fc.assert(
      fc.property(anthropicBody, fc.nat(), (body, cut) => {
        const messages = body.messages as Json[];
        const keep = 1 + (cut % messages.length);
        const prefixBody = { ...body, messages: messages.slice(0, keep) };
        const full = analyze(body);
        const prefix = analyze(prefixBody);
        const images = (b: Json) => JSON.stringify(b.messages).includes('"image"');
        const sameLevel = images(body) === images(prefixBody);
        expect(prefix.family).toBe(full.family);
        prefix.segments.forEach((s, i) => {
          const f = full.segments[i];
          expect(f?.kind).toBe(s.kind);
          if (s.hash === undefined || f?.hash === undefined) return;
          if (s.kind !== "tool" && s.kind !== "system" && !sameLevel) expect(f.hash).not.toBe(s.hash);
          else expect(f.hash).toBe(s.hash);
        });
      }),
      { numRuns: 150 },
    );
  });

  it("keeps sampling parameters out of the chain", () => {
    fc.assert(
      fc.property(anthropicBody, (body) => {
        const a = analyze({
          ...body,
          temperature: 0.1,
          top_p: 0.5,
          max_tokens: 7,
          stop_sequences: ["x"],
          metadata: { user_id: "u" },
        });
        const b = analyze({ ...body, temperature: 0.9, max_tokens: 4096 });
        expect(a.segments.map((s) => s.hash)).toEqual(b.segments.map((s) => s.hash));
        expect(a.family).toBe(b.family);
      }),
      { numRuns: 60 },
    );
  });
});

describe("Anthropic plan (properties)", () => {
  it("never exceeds 4 breakpoints, keeps TTL order and client markers, marks nothing forbidden, applies once", () => {
    fc.assert(
      fc.property(anthropicBody, ctxArb, fc.array(fc.nat(), { maxLength: 6 }), (body, ctx, picks) => {
        const a = analyze(body);
        const plan = planAnthropic(a, knownFor(a, picks), ctx);
        const rendered = renderAnthropic(a, plan);
        const out = JSON.parse(rendered) as Json;
        const before = markersInOrder(JSON.parse(renderAnthropic(a, NO_PLAN)) as Json);
        const after = markersInOrder(out);
        const auto = body.cache_control as Json | undefined;
        const clientTotal = before.length + (auto ? 1 : 0);
        const clientOrdered = [
          ...before.map((m) => m.ttl),
          ...(auto ? [auto.ttl === "1h" ? "1h" : "5m"] : []),
        ].every((t, i, all) => i === 0 || !(t === "1h" && all[i - 1] === "5m"));
        if (clientTotal >= MAX_BREAKPOINTS || !clientOrdered) expect(plan.breakpoints).toHaveLength(0);
        else expect(after.length + (auto ? 1 : 0)).toBeLessThanOrEqual(MAX_BREAKPOINTS);
        expect(after.length).toBe(before.length + plan.breakpoints.length);
        if (clientOrdered) {
          const ttls = [...after.map((m) => m.ttl), ...(auto ? [auto.ttl === "1h" ? "1h" : "5m"] : [])];
          ttls.forEach((t, i) => {
            if (i > 0) expect(t === "1h" && ttls[i - 1] === "5m").toBe(false);
          });
        }
        for (const bp of plan.breakpoints) {
          const s = a.segments[bp.segment];
          expect(s?.breakpointable).toBe(true);
          expect(s?.type).not.toMatch(/thinking/);
        }
        for (const m of after.slice(0))
          expect(m.type === "thinking" || m.type === "redacted_thinking" || m.empty).toBe(false);
        // Client markers stay, with their TTLs.
        expect(JSON.stringify(out.cache_control)).toBe(JSON.stringify(body.cache_control));
        const kept = markersInOrder(out).filter((m) => before.some((b) => b.type === m.type));
        expect(kept.length).toBeGreaterThanOrEqual(before.length);
        // Applying the plan again to the forwarded body changes nothing.
        expect(renderAnthropic(reanalyze(rendered), plan)).toBe(rendered);
      }),
      { numRuns: 200 },
    );
  });
});

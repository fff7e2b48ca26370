import { describe, expect, it } from "vitest";
import {
  analyzeAnthropic,
  DEFAULT_RULES,
  hasVolatileSpan,
  parseCanonicalizeHeader,
  resolveRules,
} from "../../src/canonicalize/index.ts";
import { planAnthropic } from "../../src/plan/index.ts";
import { diffChains, summarizeChain } from "../../src/prefix/diff.ts";
import { renderAnthropic } from "../../src/upstream/body/index.ts";

type Json = Record<string, unknown>;
const analyze = (body: Json, rules = DEFAULT_RULES) =>
  analyzeAnthropic({ raw: JSON.stringify(body), body, salt: "s", rules });
const BODY = "Follow the house style and cite sources. ".repeat(200);

describe("rules header", () => {
  it("parses off, on and per-rule settings", () => {
    expect(resolveRules({}, parseCanonicalizeHeader("off").override)).toEqual({
      schemaKeys: false,
      argumentKeys: false,
      toolOrder: false,
      lineEndings: false,
      volatileToTail: false,
    });
    expect(
      resolveRules({ toolOrder: false }, parseCanonicalizeHeader("tool-order=on, volatile-to-tail").override),
    ).toMatchObject({ toolOrder: true, volatileToTail: true, schemaKeys: true });
    expect(resolveRules({}, parseCanonicalizeHeader("no-line-endings").override).lineEndings).toBe(false);
    expect(parseCanonicalizeHeader("bogus, tool-order=maybe").unknown).toEqual(["bogus", "tool-order=maybe"]);
    expect(resolveRules({ schemaKeys: false }, parseCanonicalizeHeader(null).override).schemaKeys).toBe(
      false,
    );
  });
});

describe("volatile spans", () => {
  it("detects dates, times, UUIDs and request ids", () => {
    for (const s of [
      "Today is 2026-11-27.",
      "It is 14:05 now",
      "Monday, November 27, 2026",
      "id 3f2c1a9e-1b2c-4d5e-8f90-123456789abc",
      "request_id: req_01HZX4Y8K2M",
    ]) {
      expect(hasVolatileSpan(s)).toBe(true);
    }
    expect(hasVolatileSpan("You are a helpful assistant for version 2 of the API.")).toBe(false);
  });

  it("moves them behind the last breakpoint only when opted in", () => {
    const body = {
      model: "claude-sonnet-4-5",
      max_tokens: 5,
      system: `Current date: 2026-11-27\n${BODY}`,
      messages: [{ role: "user", content: "hi" }],
    };
    expect(analyze(body).canonical.changed).toBe(false);
    const a = analyze(body, { ...DEFAULT_RULES, volatileToTail: true });
    expect(a.canonical.applied).toContain("volatileToTail");
    const other = analyze(
      { ...body, system: `Current date: 2026-11-28\n${BODY}` },
      { ...DEFAULT_RULES, volatileToTail: true },
    );
    expect(other.family).toBe(a.family);
    const out = JSON.parse(
      renderAnthropic(
        a,
        planAnthropic(a, new Map(), { nowMs: 0, tenant: { allowRetention24h: false }, familyRatePerMin: 0 }),
      ),
    ) as { system: Json[]; messages: Json[] };
    // The head's breakpoint (whatever TTL the head prior picks) ends the system prompt, the date moved out.
    expect(out.system).toEqual([
      { type: "text", text: BODY, cache_control: expect.objectContaining({ type: "ephemeral" }) },
    ]);
    expect(out.messages[0]?.content).toEqual([
      { type: "text", text: "hi" },
      { type: "text", text: "Current date: 2026-11-27" },
    ]);
  });
});

describe("diffChains", () => {
  const base = {
    model: "claude-sonnet-4-5",
    max_tokens: 5,
    system: BODY,
    messages: [
      { role: "user", content: "a" },
      { role: "assistant", content: "b" },
      { role: "user", content: "c" },
    ],
  };
  it("finds no divergence when a request continues the previous one", () => {
    const next = {
      ...base,
      messages: [...base.messages, { role: "assistant", content: "d" }, { role: "user", content: "e" }],
    };
    expect(diffChains(summarizeChain(analyze(base)), summarizeChain(analyze(next)))).toBeNull();
  });

  it("names the level that changed and flags a volatile system prompt", () => {
    const prev = summarizeChain(analyze({ ...base, system: `Now: 2026-11-27 10:00\n${BODY}` }));
    const cur = summarizeChain(analyze({ ...base, system: `Now: 2026-11-27 10:05\n${BODY}` }));
    expect(diffChains(prev, cur)).toMatchObject({ index: 0, kind: "system", volatile: true, exact: true });
    const edited = { ...base, messages: [{ role: "user", content: "A" }, ...base.messages.slice(1)] };
    expect(diffChains(summarizeChain(analyze(base)), summarizeChain(analyze(edited)))).toMatchObject({
      kind: "message",
      message: 0,
      volatile: false,
    });
    expect(
      diffChains(
        summarizeChain(analyze(base)),
        summarizeChain(analyze({ ...base, tool_choice: { type: "any" } })),
      ),
    ).toMatchObject({ kind: "params" });
    expect(
      diffChains(summarizeChain(analyze(base)), summarizeChain(analyze({ ...base, model: "claude-opus-5" }))),
    ).toMatchObject({ kind: "model" });
    expect(
      diffChains(
        summarizeChain(analyze(base)),
        summarizeChain(analyze({ ...base, tools: [{ name: "t", input_schema: {} }] })),
      ),
    ).toMatchObject({ kind: "tools", index: 0 });
  });
});

describe("canonical copies", () => {
  it("keep a key named __proto__ (JSON.parse makes it an own property; nothing the client sent is lost)", () => {
    const raw = `{"model":"claude-sonnet-4-5","max_tokens":5,"tools":[{"name":"t","description":"d","input_schema":{"type":"object","properties":{"z":{"type":"string"},"__proto__":{"type":"number"}}}}],"system":${JSON.stringify(BODY)},"messages":[{"role":"user","content":"hi"}]}`;
    const body = JSON.parse(raw) as Json;
    const a = analyzeAnthropic({ raw, body, salt: "s", rules: DEFAULT_RULES });
    expect(a.canonical.applied).toContain("schemaKeys");
    const rendered = renderAnthropic(
      a,
      planAnthropic(a, new Map(), { nowMs: 0, tenant: { allowRetention24h: false }, familyRatePerMin: 0 }),
    );
    const props = (JSON.parse(rendered) as { tools: { input_schema: { properties: Json } }[] }).tools[0]
      ?.input_schema.properties;
    expect(Object.keys(props ?? {})).toEqual(["__proto__", "z"]);
    expect(Object.getOwnPropertyDescriptor(props, "__proto__")?.value).toEqual({ type: "number" });
  });
});

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { analyzeOpenAIChat, analyzeOpenAIResponses, DEFAULT_RULES } from "../../src/canonicalize/index.ts";
import { shardCount } from "../../src/decide/openai.ts";
import { describePlan, planOpenAI } from "../../src/plan/index.ts";
import type { OpenAIPlan, PlanContext } from "../../src/plan/types.ts";
import { renderOpenAI, tenantScopedCacheKey } from "../../src/upstream/body/index.ts";
import { chatBody } from "../support/arbitraries.ts";
import { outlookWith } from "../support/outlook.ts";

type Json = Record<string, unknown>;
const ctx: PlanContext = { nowMs: 0, tenant: { allowRetention24h: true }, familyRatePerMin: 0 };
const SYSTEM = "You answer questions about the Acme product catalogue, politely and precisely. ".repeat(120);
const chat = (body: Json) =>
  analyzeOpenAIChat({ raw: JSON.stringify(body), body, salt: "s", rules: DEFAULT_RULES });
const responses = (body: Json) =>
  analyzeOpenAIResponses({ raw: JSON.stringify(body), body, salt: "s", rules: DEFAULT_RULES });
const NONE: OpenAIPlan = {
  upstream: "openai-chat",
  promptCacheKey: null,
  retention: null,
  cacheMode: null,
  breakpoints: [],
  notes: [],
};

describe("OpenAI Chat", () => {
  it("sets a family key and 24h retention where the model supports it, and respects the client's key", () => {
    const body = {
      model: "gpt-4.1",
      messages: [
        { role: "system", content: SYSTEM },
        { role: "user", content: "hi" },
      ],
    };
    const a = chat(body);
    const plan = planOpenAI(a, new Map(), ctx);
    expect(plan.promptCacheKey?.value).toBe(`stk-${a.family.slice(0, 16)}`);
    expect(plan.retention).toBe("24h");
    const out = JSON.parse(renderOpenAI(a, plan)) as Json;
    expect(out.prompt_cache_key).toBe(plan.promptCacheKey?.value);
    expect(out.prompt_cache_retention).toBe("24h");
    expect(planOpenAI(a, new Map(), { ...ctx, tenant: { allowRetention24h: false } }).retention).toBeNull();
    expect(planOpenAI(chat({ ...body, model: "gpt-4o" }), new Map(), ctx).retention).toBeNull();
    const own = planOpenAI(
      chat({ ...body, prompt_cache_key: "mine", prompt_cache_retention: "in_memory" }),
      new Map(),
      ctx,
    );
    expect(own.promptCacheKey).toBeNull();
    expect(own.retention).toBeNull();
  });

  it("spreads a hot family over keys, keeping each conversation on one", () => {
    expect(shardCount(5)).toBe(1);
    expect(shardCount(10)).toBe(2);
    expect(shardCount(40)).toBe(8);
    const base = { model: "gpt-5.1", messages: [{ role: "system", content: SYSTEM }] };
    const keys = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const first = { ...base, messages: [...base.messages, { role: "user", content: `conversation ${i}` }] };
      const plan = planOpenAI(chat(first), new Map(), { ...ctx, familyRatePerMin: 20 });
      const later = {
        ...first,
        messages: [
          ...first.messages,
          { role: "assistant", content: "ok" },
          { role: "user", content: "more" },
        ],
      };
      expect(planOpenAI(chat(later), new Map(), { ...ctx, familyRatePerMin: 20 }).promptCacheKey).toEqual(
        plan.promptCacheKey,
      );
      keys.add(plan.promptCacheKey?.value ?? "");
    }
    expect(keys.size).toBe(4);
  });

  it("on GPT-5.6 marks the head end and turns the implicit write off for a one-off request", () => {
    const body = {
      model: "gpt-5.6-terra",
      messages: [
        { role: "system", content: SYSTEM },
        { role: "user", content: "one question" },
      ],
    };
    const a = chat(body);
    const plan = planOpenAI(a, new Map(), ctx);
    expect(plan.retention).toBeNull();
    expect(plan.cacheMode).toBe("explicit");
    expect(plan.breakpoints).toEqual([
      { segment: 0, ttl: "30m", role: "head", tokens: a.segments[0]?.cumulativeTokens },
    ]);
    const out = JSON.parse(renderOpenAI(a, plan)) as { messages: Json[]; prompt_cache_options: Json };
    expect(out.messages[0]?.content).toEqual([
      { type: "text", text: SYSTEM, prompt_cache_breakpoint: { mode: "explicit" } },
    ]);
    expect(out.prompt_cache_options).toEqual({ mode: "explicit" });
    expect(describePlan(plan)).toMatch(
      /^openai-chat bp=head@0:30m key=stk-\S+ mode=explicit note=tail-not-written$/,
    );
    const continued = {
      ...body,
      messages: [...body.messages, { role: "assistant", content: "ok" }, { role: "user", content: "and?" }],
    };
    expect(planOpenAI(chat(continued), new Map(), ctx).cacheMode).toBeNull();
  });

  it("on GPT-5.6 judges a new tail by the tokens its request brings: a pasted document is not written", () => {
    const outlook = outlookWith(0.35);
    const turn = (last: string) =>
      chat({
        model: "gpt-5.6-terra",
        messages: [
          { role: "system", content: SYSTEM },
          { role: "user", content: "first question" },
          { role: "assistant", content: "ok" },
          { role: "user", content: last },
        ],
      });
    const mode = (last: string) => planOpenAI(turn(last), new Map(), { ...ctx, outlook }).cacheMode;
    expect(mode("and?")).toBeNull(); // the implicit write of the newest message pays
    expect(mode(SYSTEM.repeat(12))).toBe("explicit"); // about 18K new tokens: it does not
  });

  it("canonicalizes function-call arguments and tool schemas", () => {
    const body = {
      model: "gpt-5.1",
      tools: [
        {
          type: "function",
          function: { name: "zeta", parameters: { type: "object", properties: { b: {}, a: {} } } },
        },
        { type: "function", function: { name: "alpha", parameters: {} } },
      ],
      messages: [
        { role: "user", content: "x" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            { id: "c", type: "function", function: { name: "zeta", arguments: '{"b": 1, "a": 2}' } },
          ],
        },
        { role: "tool", tool_call_id: "c", content: "done" },
      ],
    };
    const a = chat(body);
    expect(a.canonical.applied.sort()).toEqual(["argumentKeys", "schemaKeys", "toolOrder"]);
    const out = JSON.parse(renderOpenAI(a, NONE)) as { tools: { function: Json }[]; messages: Json[] };
    expect(out.tools.map((t) => t.function.name)).toEqual(["alpha", "zeta"]);
    expect(Object.keys(out.tools[1]?.function.parameters as Json)).toEqual(["properties", "type"]);
    const calls = out.messages[1]?.tool_calls as { function: Json }[];
    expect(calls[0]?.function.arguments).toBe('{"a":2,"b":1}');
  });

  it("keeps its invariants on generated requests", () => {
    fc.assert(
      fc.property(chatBody, fc.constantFrom(0, 5, 100), (body, rate) => {
        const a = chat(body);
        const plan = planOpenAI(a, new Map(), { ...ctx, familyRatePerMin: rate });
        const rendered = renderOpenAI(a, plan);
        const out = JSON.parse(rendered) as Json;
        if (typeof body.prompt_cache_key === "string")
          expect(out.prompt_cache_key).toBe(tenantScopedCacheKey(a.h0, body.prompt_cache_key));
        for (const bp of plan.breakpoints) expect(a.segments[bp.segment]?.role).not.toBe("assistant");
        expect(plan.breakpoints.length).toBeLessThanOrEqual(3);
        const again = chat(out);
        expect(again.canonical.changed).toBe(false);
        expect(again.family).toBe(a.family);
        // Rendering twice changes nothing but the key: the first render's key is the second's client key,
        // which is scoped (HMAC) on every render.
        const twice = JSON.parse(renderOpenAI(again, plan)) as Json;
        if (typeof out.prompt_cache_key === "string") {
          twice.prompt_cache_key = out.prompt_cache_key;
          expect(JSON.stringify(twice)).toBe(JSON.stringify(out));
        } else expect(renderOpenAI(again, plan)).toBe(rendered);
      }),
      { numRuns: 150 },
    );
  });
});

describe("OpenAI Responses", () => {
  it("treats instructions and developer input as the head and wraps a string input for a breakpoint", () => {
    const body = {
      model: "gpt-5.6-sol",
      instructions: SYSTEM,
      input: [
        { role: "developer", content: SYSTEM },
        { role: "user", content: "q" },
      ],
    };
    const a = responses(body);
    expect(a.segments.slice(0, a.headEnd + 1).map((s) => s.kind)).toEqual(["system", "system"]);
    const plan = planOpenAI(a, new Map(), ctx);
    expect(plan.breakpoints[0]?.segment).toBe(1);
    const out = JSON.parse(renderOpenAI(a, plan)) as { input: Json[] };
    expect(out.input[0]?.content).toEqual([
      { type: "input_text", text: SYSTEM, prompt_cache_breakpoint: { mode: "explicit" } },
    ]);
    const same = responses({
      ...body,
      input: [
        { role: "developer", content: [{ type: "input_text", text: SYSTEM }] },
        { role: "user", content: "q" },
      ],
    });
    expect(same.family).toBe(a.family);
  });

  it("keys a string input like a one-message list", () => {
    const a = responses({ model: "gpt-5.1", input: "hello" });
    const b = responses({
      model: "gpt-5.1",
      input: [{ role: "user", content: [{ type: "input_text", text: "hello" }] }],
    });
    expect(a.segments.at(-1)?.hash).toBe(b.segments.at(-1)?.hash);
    const plan = planOpenAI(a, new Map(), ctx);
    expect(JSON.parse(renderOpenAI(a, plan))).toMatchObject({
      input: "hello",
      prompt_cache_key: plan.promptCacheKey?.value,
    });
  });
});

describe("Responses with volatile-to-tail and malformed last content", () => {
  it("does not throw when the last user item's content is neither a string nor an array", () => {
    const body = {
      model: "gpt-5.4-mini",
      instructions: "Today is 2026-11-27T10:00:00Z\nYou are helpful.",
      input: [{ role: "user", content: { unexpected: true } }],
    };
    const raw = JSON.stringify(body);
    const rules = { ...DEFAULT_RULES, volatileToTail: true };
    expect(() => analyzeOpenAIResponses({ raw, body, salt: "s", rules })).not.toThrow();
  });
});

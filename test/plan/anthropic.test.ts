import { describe, expect, it } from "vitest";
import { analyzeAnthropic, DEFAULT_RULES } from "../../src/canonicalize/index.ts";
import { PRIORS } from "../../src/decide/reuse.ts";
import type { Outlook } from "../../src/decide/types.ts";
import { describePlan, planAnthropic } from "../../src/plan/index.ts";
import type { PlanContext, PrefixState } from "../../src/plan/types.ts";
import { renderAnthropic } from "../../src/upstream/body/index.ts";
import { outlookWith } from "../support/outlook.ts";

type Json = Record<string, unknown>;
const ctx: PlanContext = { nowMs: 10_000_000, tenant: { allowRetention24h: false }, familyRatePerMin: 0 };
const SYSTEM = "You are a careful assistant for the Acme support desk. ".repeat(250); // ~2.7K tokens
const LONG = "The quarterly report covers revenue, costs and the outlook for next year. ".repeat(120);

function analyze(body: Json) {
  return analyzeAnthropic({ raw: JSON.stringify(body), body, salt: "s", rules: DEFAULT_RULES });
}

function conversation(turns: number, extra: Json = {}): Json {
  const messages: Json[] = [];
  for (let i = 0; i < turns; i++) {
    messages.push({ role: "user", content: `Question ${i}: ${LONG}` });
    messages.push({ role: "assistant", content: [{ type: "text", text: `Answer ${i}.` }] });
  }
  messages.push({ role: "user", content: "And the next one?" });
  return { model: "claude-sonnet-4-5", max_tokens: 100, system: SYSTEM, messages, ...extra };
}

/**
 * The plan for a three-turn conversation whose last message is `last`, its history (everything before that
 * message) sent once before, a minute ago, and not cached.
 */
function planAfterHistory(last: string, outlook: Outlook) {
  const body = conversation(3);
  (body.messages as Json[]).splice(-1, 1, { role: "user", content: last });
  const a = analyze(body);
  const history = a.segments.length - 2;
  const known = new Map<string, PrefixState>([
    [
      a.segments[history]?.hash as string,
      { tokens: 8000, seen: 1, lastSeenMs: ctx.nowMs - 60_000, cachedUntilMs: null, ttl: null },
    ],
  ]);
  return { a, plan: planAnthropic(a, known, { ...ctx, outlook }) };
}

describe("planAnthropic without tracker state", () => {
  it("writes only the stable head of a first request with a unique tail", () => {
    const a = analyze({
      model: "claude-sonnet-4-5",
      max_tokens: 100,
      system: SYSTEM,
      messages: [{ role: "user", content: LONG }],
    });
    const plan = planAnthropic(a, new Map(), ctx);
    expect(plan.breakpoints.map((b) => b.role)).toEqual(["head"]);
    expect(plan.breakpoints[0]?.segment).toBe(a.headEnd);
    const out = JSON.parse(renderAnthropic(a, plan)) as Json;
    // With no tracker answer, the head prior of a new tenant: its heads likely recur (HEADS_RECUR_PRIOR), so
    // for the hour.
    expect(out.system).toEqual([
      { type: "text", text: SYSTEM, cache_control: { type: "ephemeral", ttl: "1h" } },
    ]);
    const p = `p5m=${PRIORS.head.p5m.toFixed(2)},p1h=${PRIORS.head.p1h.toFixed(2)}`;
    expect(describePlan(plan)).toMatch(
      new RegExp(`^anthropic bp=head@0:1h read=0 write=\\d\\.\\dk lasting=1h\\(${p}\\)$`),
    );
  });

  it("writes the tail of a conversation that is being continued", () => {
    const a = analyze(conversation(3));
    const plan = planAnthropic(a, new Map(), ctx);
    const roles = plan.breakpoints.map((b) => b.role);
    expect(roles).toContain("tail");
    expect(roles).toContain("head");
    const tail = plan.breakpoints.find((b) => b.role === "tail");
    expect(tail?.segment).toBe(a.segments.length - 1);
    const out = JSON.parse(renderAnthropic(a, plan)) as { messages: Json[] };
    expect(out.messages.at(-1)?.content).toEqual([
      { type: "text", text: "And the next one?", cache_control: { type: "ephemeral" } },
    ]);
  });

  it("places nothing below the model's minimum cacheable length", () => {
    const a = analyze({
      model: "claude-haiku-4-5",
      max_tokens: 10,
      system: "Be brief.",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(planAnthropic(a, new Map(), ctx).breakpoints).toEqual([]);
  });

  it("bridges to the previous turn's write when the lookback cannot reach it", () => {
    const blocks = Array.from({ length: 30 }, (_, i) => ({
      type: "tool_result",
      tool_use_id: `t${i}`,
      content: `output ${i}`,
    }));
    const body = conversation(2);
    const messages = body.messages as Json[];
    messages.push({ role: "assistant", content: [{ type: "tool_use", id: "t", name: "run", input: {} }] });
    messages.push({ role: "user", content: blocks });
    const a = analyze(body);
    const plan = planAnthropic(a, new Map(), ctx);
    expect(plan.breakpoints.map((b) => b.role)).toContain("bridge");
    expect(plan.breakpoints.find((b) => b.role === "bridge")?.segment).toBe(a.previousTurnEnd);
  });
});

describe("planAnthropic with tracker state", () => {
  it("reads the longest warm prefix when the lookback from the tail would miss it", () => {
    const body = conversation(3);
    const messages = body.messages as Json[];
    messages.splice(-1, 1, {
      role: "user",
      content: Array.from({ length: 25 }, (_, i) => ({ type: "text", text: `note ${i}` })),
    });
    const a = analyze(body);
    const warmAt = a.segments.findLastIndex(
      (s, i) => s.hash !== undefined && s.breakpointable && i < a.segments.length - 25,
    );
    const known = new Map<string, PrefixState>([
      [
        a.segments[warmAt]?.hash as string,
        {
          tokens: 9000,
          seen: 2,
          lastSeenMs: ctx.nowMs - 60_000,
          cachedUntilMs: ctx.nowMs + 200_000,
          ttl: "5m",
        },
      ],
    ]);
    const plan = planAnthropic(a, known, ctx);
    expect(plan.breakpoints.find((b) => b.role === "read")?.segment).toBe(warmAt);
    expect(plan.expected.readTokens).toBe(a.segments[warmAt]?.cumulativeTokens);
  });

  it("chooses 1h for a head reused every 20 minutes and 5m for a busy one", () => {
    const a = analyze({
      model: "claude-sonnet-4-5",
      max_tokens: 10,
      system: SYSTEM,
      messages: [{ role: "user", content: "hi" }],
    });
    expect(planAnthropic(a, new Map(), { ...ctx, familyRatePerMin: 0.05 }).breakpoints[0]?.ttl).toBe("1h");
    expect(planAnthropic(a, new Map(), { ...ctx, familyRatePerMin: 5 }).breakpoints[0]?.ttl).toBe("5m");
    expect(
      planAnthropic(a, new Map(), {
        ...ctx,
        familyRatePerMin: 0.05,
        tenant: { allowRetention24h: false, allow1h: false },
      }).breakpoints[0]?.ttl,
    ).toBe("5m");
  });

  it("marks a head seen before for as long as its own traffic says, not for the tail's TTL", () => {
    const a = analyze(conversation(3));
    const known = new Map<string, PrefixState>([
      [
        a.segments[a.headEnd]?.hash as string,
        { tokens: 2700, seen: 4, lastSeenMs: ctx.nowMs - 20 * 60_000, cachedUntilMs: null, ttl: null },
      ],
    ]);
    // A head used every 20 minutes (1h pays), in a conversation whose tail is written for 5 minutes.
    const plan = planAnthropic(a, known, { ...ctx, familyRatePerMin: 0.05 });
    const head = plan.breakpoints.find((b) => b.segment === a.headEnd);
    expect(head).toMatchObject({ role: "head", ttl: "1h" });
    expect(plan.breakpoints.find((b) => b.role === "tail")?.ttl).toBe("5m");
  });

  it("judges a new tail by the tokens its request brings: a long pasted document less than a question", () => {
    // The family's conversations come back within 5 minutes 35 % of the time: a 5m tail write pays
    // (break-even 0.28) unless the request's new tokens say otherwise.
    const outlook = outlookWith(0.35);
    const question = planAfterHistory("And the next one?", outlook);
    const document = planAfterHistory(LONG.repeat(8), outlook); // about 18K new tokens
    const last = (p: ReturnType<typeof planAfterHistory>) => p.a.segments.length - 1;
    expect(question.plan.breakpoints.some((b) => b.segment === last(question))).toBe(true);
    expect(document.plan.breakpoints.some((b) => b.segment === last(document))).toBe(false);
  });

  it("judges a continued conversation's history by what the turn brings: not written under a long document", () => {
    // New tails pay too rarely to write (12 %), so the history sent before (seen once: 39 % by its own count)
    // is the candidate, and the turn's next request is what would send it again.
    const roles = (last: string) =>
      planAfterHistory(last, outlookWith(0.12)).plan.breakpoints.map((b) => b.role);
    expect(roles("And the next one?")).toContain("seen");
    // About 18K new tokens: continued turns that add 4K tokens or more are followed a quarter as often.
    expect(roles(LONG.repeat(8))).not.toContain("seen");
  });

  it("writes a recurring request's tail once it has been seen before (second sight)", () => {
    const body = {
      model: "claude-sonnet-4-5",
      max_tokens: 10,
      system: SYSTEM,
      messages: [{ role: "user", content: LONG }],
    };
    const a = analyze(body);
    const tail = a.segments.length - 1;
    const known = new Map<string, PrefixState>([
      [
        a.segments[tail]?.hash as string,
        {
          tokens: 4000,
          seen: 3,
          lastSeenMs: ctx.nowMs - 90_000,
          cachedUntilMs: null,
          ttl: null,
          gaps: { count: 2, within5m: 2, within1h: 2 },
        },
      ],
    ]);
    expect(planAnthropic(a, known, ctx).breakpoints.map((b) => b.role)).toContain("tail");
  });
});

describe("planAnthropic around client markers", () => {
  it("counts automatic mode as a breakpoint and keeps TTLs legal before a 1h marker", () => {
    const a = analyze(conversation(2, { cache_control: { type: "ephemeral", ttl: "1h" } }));
    const plan = planAnthropic(a, new Map(), ctx);
    expect(plan.breakpoints.length).toBeLessThanOrEqual(3);
    expect(plan.breakpoints.every((b) => b.ttl === "1h")).toBe(true);
    expect(plan.breakpoints.some((b) => b.segment === a.segments.length - 1)).toBe(false);
  });

  it("adds nothing when the client already uses four breakpoints", () => {
    const marked = { type: "text", text: LONG, cache_control: { type: "ephemeral" } };
    const a = analyze({
      model: "claude-sonnet-4-5",
      max_tokens: 1,
      system: [marked, marked],
      messages: [{ role: "user", content: [marked, marked] }],
    });
    const plan = planAnthropic(a, new Map(), ctx);
    expect(plan.breakpoints).toEqual([]);
    expect(renderAnthropic(a, plan)).toBe(a.raw);
  });

  it("adds nothing to a request whose own TTL order the API would reject", () => {
    const body = conversation(2);
    (body.messages as Json[])[0] = {
      role: "user",
      content: [{ type: "text", text: LONG, cache_control: { type: "ephemeral" } }],
    };
    (body.messages as Json[])[2] = {
      role: "user",
      content: [{ type: "text", text: LONG, cache_control: { type: "ephemeral", ttl: "1h" } }],
    };
    expect(planAnthropic(analyze(body), new Map(), ctx).notes).toContain("client-ttl-order-invalid");
  });
});

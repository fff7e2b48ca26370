import { describe, expect, it } from "vitest";
import { analyzeAnthropic, DEFAULT_RULES } from "../../src/canonicalize/index.ts";
import { modelInfo } from "../../src/economics/models.ts";
import { planAnthropic } from "../../src/plan/index.ts";
import type { AnthropicPlan, PlanContext, PrefixState } from "../../src/plan/types.ts";
import type { Analysis } from "../../src/prefix/types.ts";

type Json = Record<string, unknown>;
const NOW = 10_000_000;
const ctx: PlanContext = { nowMs: NOW, tenant: { allowRetention24h: false }, familyRatePerMin: 0 };
const BEDROCK = { spacedCheckpoints: true };
const MIN = modelInfo("claude-sonnet-4-5").minCacheableTokens;
const SYSTEM = "You are a careful assistant for the Acme support desk. ".repeat(250); // ~2.7K tokens
const TURN = "Please check the order status and the refund policy for this customer. ".repeat(6); // ~100 tokens

function analyze(body: Json): Analysis {
  return analyzeAnthropic({ raw: JSON.stringify(body), body, salt: "s", rules: DEFAULT_RULES });
}

/** A chat with `turns` short exchanges before its last user message, `text` per message. */
function chat(turns: number, text = TURN, extra: Json = {}): Json {
  const messages: Json[] = [];
  for (let i = 0; i < turns; i++) {
    messages.push({ role: "user", content: `Question ${i}: ${text}` });
    messages.push({ role: "assistant", content: [{ type: "text", text: `Answer ${i}: ${text}` }] });
  }
  messages.push({ role: "user", content: `Question ${turns}: ${text}` });
  return { model: "claude-sonnet-4-5", max_tokens: 100, system: SYSTEM, messages, ...extra };
}

/** The head believed cached (the previous turn read or wrote it). */
function warmHead(a: Analysis): Map<string, PrefixState> {
  const h = a.segments[a.headEnd]?.hash ?? "";
  const tokens = a.segments[a.headEnd]?.cumulativeTokens ?? 0;
  return new Map([
    [h, { tokens, seen: 1, lastSeenMs: NOW - 30_000, cachedUntilMs: NOW + 270_000, ttl: "5m" }],
  ]);
}

/** Token positions of every cache point the request will carry: the client's and Stoker's. */
function points(a: Analysis, plan: AnthropicPlan): number[] {
  const at = [...a.clientBreakpoints.map((b) => b.segment), ...plan.breakpoints.map((b) => b.segment)];
  return at.sort((x, y) => x - y).map((i) => a.segments[i]?.cumulativeTokens ?? 0);
}

function gaps(tokens: number[]): number[] {
  return tokens.map((t, i) => t - (tokens[i - 1] ?? 0));
}

describe("planAnthropic with Bedrock's per-checkpoint minimum", () => {
  it("a continued chat with the head warm: the tail is written alone, where Anthropic's plan adds points that would cache nothing on Bedrock", () => {
    const a = analyze(chat(3));
    const known = warmHead(a);
    const anthropic = planAnthropic(a, known, ctx);
    const bedrock = planAnthropic(a, known, ctx, BEDROCK);
    // Anthropic's own plan is unchanged by the option's existence and packs points closer than the minimum.
    expect(Math.min(...gaps(points(a, anthropic)))).toBeLessThan(MIN);
    expect(bedrock.breakpoints.map((b) => b.role)).toEqual(["tail"]);
    expect(bedrock.breakpoints[0]?.segment).toBe(a.segments.length - 1);
    expect(bedrock.notes).toContain("checkpoint-spacing");
    for (const g of gaps(points(a, bedrock))) expect(g).toBeGreaterThanOrEqual(MIN);
  });

  it("a cold head with a short conversation after it: the head's own entry is kept (worth more than the little beyond it)", () => {
    const a = analyze(chat(1));
    const bedrock = planAnthropic(a, new Map(), ctx, BEDROCK);
    expect(bedrock.breakpoints.map((b) => b.role)).toEqual(["head"]);
    expect(bedrock.breakpoints[0]?.segment).toBe(a.headEnd);
  });

  it("once the conversation beyond the head reaches the minimum, head and tail both count", () => {
    const a = analyze(chat(8));
    const bedrock = planAnthropic(a, warmHead(a), ctx, BEDROCK);
    const roles = bedrock.breakpoints.map((b) => b.role);
    expect(roles).toContain("tail");
    expect(roles.length).toBeGreaterThanOrEqual(2);
    for (const g of gaps(points(a, bedrock))) expect(g).toBeGreaterThanOrEqual(MIN);
  });

  it("never places a point that would stop the client's own cache point from counting", () => {
    const body = chat(3);
    const messages = body.messages as Json[];
    // The client marks the second user message: more than the minimum after the start.
    messages[2] = {
      role: "user",
      content: [{ type: "text", text: String(messages[2]?.content), cache_control: { type: "ephemeral" } }],
    };
    const a = analyze(body);
    expect(a.clientBreakpoints).toHaveLength(1);
    for (const known of [new Map<string, PrefixState>(), warmHead(a)]) {
      const plan = planAnthropic(a, known, ctx, BEDROCK);
      for (const g of gaps(points(a, plan))) expect(g).toBeGreaterThanOrEqual(MIN);
    }
  });

  it("a turn of more than 20 small blocks after the warm entry: the entry is read by a point of its own, not written again by a tail the lookback cannot reach from", () => {
    const body = chat(8);
    const messages = body.messages as Json[];
    const items = Array.from({ length: 25 }, (_, i) => ({ type: "text", text: `Item ${i}: check it.` }));
    messages[messages.length - 1] = { role: "user", content: items };
    const a = analyze(body);
    // The previous turn's end (the last assistant message) is believed cached.
    const warm = a.segments.findLastIndex((s) => s.role === "assistant" && s.hash !== undefined);
    const w = a.segments[warm];
    expect(w?.breakpointable).toBe(true);
    const known = new Map<string, PrefixState>([
      [
        w?.hash ?? "",
        {
          tokens: w?.cumulativeTokens ?? 0,
          seen: 1,
          lastSeenMs: NOW - 30_000,
          cachedUntilMs: NOW + 270_000,
          ttl: "5m",
        },
      ],
    ]);
    const last = a.segments.length - 1;
    expect((a.segments[last]?.position ?? 0) - (w?.position ?? 0)).toBeGreaterThanOrEqual(20);
    expect((a.segments[last]?.cumulativeTokens ?? 0) - (w?.cumulativeTokens ?? 0)).toBeLessThan(MIN);
    const plan = planAnthropic(a, known, ctx, BEDROCK);
    expect(plan.breakpoints.map((b) => [b.segment, b.role])).toContainEqual([warm, "read"]);
    expect(plan.breakpoints.some((b) => b.segment > warm)).toBe(false);
    expect(plan.expected.readTokens).toBe(w?.cumulativeTokens);
    for (const g of gaps(points(a, plan))) expect(g).toBeGreaterThanOrEqual(MIN);
  });

  it("every plan keeps the minimum between its points, over chats of many lengths and turn sizes", () => {
    let placed = 0;
    for (let turns = 0; turns <= 12; turns++)
      for (const words of [2, 6, 20]) {
        const a = analyze(chat(turns, "refund policy order status ".repeat(words)));
        for (const known of [new Map<string, PrefixState>(), warmHead(a)]) {
          const plan = planAnthropic(a, known, ctx, BEDROCK);
          placed += plan.breakpoints.length;
          for (const g of gaps(points(a, plan))) expect(g).toBeGreaterThanOrEqual(MIN);
        }
      }
    expect(placed).toBeGreaterThan(78); // a plan per case places at least one point, some place more
  });
});

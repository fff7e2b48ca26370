import { beforeEach, describe, expect, it } from "vitest";
import { mulberry32 } from "../../bench/economics/synthetic.ts";
import { analyzeAnthropic } from "../../src/canonicalize/anthropic.ts";
import { analyzeOpenAIChat } from "../../src/canonicalize/openaiChat.ts";
import type { AnalysisMemo } from "../../src/canonicalize/resume.ts";
import { type CanonicalizeRules, DEFAULT_RULES } from "../../src/canonicalize/rules.ts";
import {
  analysisMemo,
  analysisMemoSize,
  clearAnalysisMemo,
  MAX_CHARS,
} from "../../src/edge/analysis-memo.ts";
import {
  clearBodyMemo,
  keepParsed,
  MIN_CHARS as MIN_BODY_CHARS,
  parseAfterKept,
} from "../../src/edge/body-memo.ts";

type Json = Record<string, unknown>;

const rng = mulberry32;

const words = (r: () => number, n: number) =>
  Array.from(
    { length: n },
    () => ["build", "the", "cache", "tool", "test", "file", "edge"][Math.floor(r() * 7)],
  ).join(" ");

const PNG_1X1 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

/** One conversation as a coding agent grows it: each turn an answer (text, tool calls) and a user turn. */
class Conversation {
  readonly messages: Json[] = [];
  readonly r: () => number;
  readonly system: unknown;
  readonly tools: Json[];
  constructor(r: () => number, system: unknown, tools: Json[]) {
    this.r = r;
    this.system = system;
    this.tools = tools;
    // An image from the start: a request's first image changes the messages level (no checkpoint then).
    this.messages.push({
      role: "user",
      content: [
        { type: "text", text: words(r, 30), cache_control: { type: "ephemeral", ttl: "1h" } },
        { type: "image", source: { type: "base64", media_type: "image/png", data: PNG_1X1 } },
      ],
    });
  }

  /** The next turn; the client's marker moves to the new last block, as Claude Code's does. */
  next(): void {
    const r = this.r;
    // The first message keeps its marker (on a resumed message, read from each request).
    for (const m of this.messages.slice(1))
      if (Array.isArray(m.content)) for (const b of m.content as Json[]) delete b.cache_control;
    const id = `toolu_${Math.floor(r() * 1e9)}`;
    const answer: Json[] = [{ type: "text", text: words(r, 20) }];
    // Arguments in the model's key order, which argumentKeys sorts (an edit in the resumed part).
    if (r() < 0.7) answer.push({ type: "tool_use", id, name: "run", input: { z: words(r, 3), a: 1 } });
    this.messages.push({ role: "assistant", content: answer });
    const kind = r();
    const user: Json[] =
      kind < 0.3
        ? [{ type: "tool_result", tool_use_id: id, content: words(r, 40) }]
        : kind < 0.5
          ? [
              {
                type: "tool_result",
                tool_use_id: id,
                content: [
                  { type: "text", text: words(r, 10) },
                  { type: "image", source: { type: "base64", media_type: "image/png", data: PNG_1X1 } },
                ],
              },
            ]
          : kind < 0.8
            ? [{ type: "text", text: words(r, 25) }]
            : [
                { type: "text", text: words(r, 5) },
                { type: "text", text: "" },
              ];
    (user[user.length - 1] as Json).cache_control = { type: "ephemeral" };
    // An SDK user's plain string, now and then.
    this.messages.push({ role: "user", content: r() < 0.15 ? words(r, 8) : user });
  }

  body(): Json {
    return {
      model: "claude-sonnet-4-5",
      max_tokens: 1024,
      system: this.system,
      tools: this.tools,
      messages: this.messages,
    };
  }
}

/** The body as a request carries it: parsed from its own bytes, so no object is shared with the last turn. */
function request(body: Json): { raw: string; body: Json } {
  const raw = JSON.stringify(body);
  return { raw, body: JSON.parse(raw) as Json };
}

/**
 * Counts what requests went on from: a conversation's checkpoint (`resumed`: more than the `headMessages`
 * of the head) or a head's (`fromHead`).
 */
function counting(
  inner: AnalysisMemo,
  headMessages = 0,
): { memo: AnalysisMemo; resumed: () => number; fromHead: () => number } {
  let resumed = 0;
  let fromHead = 0;
  return {
    memo: {
      find: (key) => inner.find(key),
      keep: (key, checkpoints, replaces) => {
        if (replaces && replaces.messages.length > headMessages) resumed++;
        else if (replaces) fromHead++;
        inner.keep(key, checkpoints, replaces);
      },
    },
    resumed: () => resumed,
    fromHead: () => fromHead,
  };
}

const SYSTEM = [
  { type: "text", text: "You are a coding agent. ".repeat(40) },
  { type: "text", text: "Project notes. ".repeat(30), cache_control: { type: "ephemeral" } },
];
const TOOLS = [
  {
    name: "run",
    description: "Runs a command.",
    input_schema: { type: "object", properties: { z: {}, a: {} } },
  },
  { name: "read", description: "Reads a file.", input_schema: { properties: { path: {} }, type: "object" } },
];

describe("a later turn goes on from the last turn's checkpoint (canonicalize/resume.ts)", () => {
  beforeEach(() => clearAnalysisMemo());

  it("gives exactly the analysis a whole feed gives, turn after turn, over interleaved conversations", () => {
    const r = rng(7);
    const { memo, resumed, fromHead } = counting(analysisMemo("tenant-a"));
    const conversations = Array.from({ length: 5 }, () => new Conversation(r, SYSTEM, TOOLS));
    let continued = 0;
    let edited = 0;
    for (let step = 0; step < 120; step++) {
      const c = conversations[Math.floor(r() * conversations.length)] as Conversation;
      const fresh = c.messages.length > 1;
      // A retry with another last message (an edit, a regenerated question) goes on from the turn before.
      if (fresh && r() < 0.15) c.messages[c.messages.length - 1] = { role: "user", content: words(r, 9) };
      else c.next();
      // Now and then a client rewrites its history (compaction, an edited message): nothing to go on from.
      if (r() < 0.1 && c.messages.length > 4) {
        (c.messages[1] as Json).content = [{ type: "text", text: words(r, 12) }];
        edited++;
      } else if (fresh) continued++;
      const req = request(c.body());
      const whole = analyzeAnthropic({ ...req, salt: "salt-a", rules: DEFAULT_RULES });
      const again = analyzeAnthropic({ ...request(c.body()), salt: "salt-a", rules: DEFAULT_RULES }, memo);
      expect(again).toEqual(whole);
    }
    expect(edited).toBeGreaterThan(3);
    // Every turn that only added messages went on from its conversation's checkpoint, every other request
    // but the very first from the head's (a new conversation, a rewritten history).
    expect(resumed()).toBe(continued);
    expect(fromHead()).toBe(120 - continued - 1);
  });

  it("feeds a request whole when its head, parameters or tenant differ", () => {
    const r = rng(11);
    const c = new Conversation(r, SYSTEM, TOOLS);
    c.next();
    const a = counting(analysisMemo("tenant-a"));
    analyzeAnthropic({ ...request(c.body()), salt: "salt-a", rules: DEFAULT_RULES }, a.memo);
    c.next();
    // Another tenant (its own memo, its own salt) never goes on from tenant-a's checkpoint.
    const b = counting(analysisMemo("tenant-b"));
    analyzeAnthropic({ ...request(c.body()), salt: "salt-b", rules: DEFAULT_RULES }, b.memo);
    expect(b.resumed()).toBe(0);
    // The same tenant's next turn does.
    analyzeAnthropic({ ...request(c.body()), salt: "salt-a", rules: DEFAULT_RULES }, a.memo);
    expect(a.resumed()).toBe(1);
    c.next();
    const variants: Json[] = [
      { ...c.body(), system: "Another system prompt. ".repeat(30) },
      { ...c.body(), tools: [TOOLS[1], TOOLS[0]] },
      { ...c.body(), tool_choice: { type: "any" } },
      { ...c.body(), model: "claude-opus-4-1" },
    ];
    for (const body of variants) {
      const whole = analyzeAnthropic({ ...request(body), salt: "salt-a", rules: DEFAULT_RULES });
      expect(analyzeAnthropic({ ...request(body), salt: "salt-a", rules: DEFAULT_RULES }, a.memo)).toEqual(
        whole,
      );
    }
    expect(a.resumed()).toBe(1);
    expect(a.fromHead()).toBe(0);
    expect(b.fromHead()).toBe(0);
  });

  it("goes on from nothing a whole feed would not give: arguments in another key order", () => {
    const call = (input: Json): Json[] => [
      { role: "user", content: "Run the build." },
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "run", input }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "ok" }] },
    ];
    for (const rules of [DEFAULT_RULES, { ...DEFAULT_RULES, argumentKeys: false }]) {
      clearAnalysisMemo();
      const { memo, resumed, fromHead } = counting(analysisMemo("tenant-a"));
      const body = (input: Json, more: Json[]) => ({
        model: "claude-sonnet-4-5",
        system: SYSTEM,
        messages: [...call(input), ...more],
      });
      analyzeAnthropic({ ...request(body({ z: 1, a: 2 }, [])), salt: "s", rules }, memo);
      const next = body({ a: 2, z: 1 }, [
        { role: "assistant", content: "Built." },
        { role: "user", content: "Thanks." },
      ]);
      const whole = analyzeAnthropic({ ...request(next), salt: "s", rules });
      expect(analyzeAnthropic({ ...request(next), salt: "s", rules }, memo)).toEqual(whole);
      // Not from the last turn; from the head, which is the same.
      expect(resumed()).toBe(0);
      expect(fromHead()).toBe(1);
    }
  });

  it("keeps no checkpoint under volatileToTail (the head depends on the last message)", () => {
    const rules: CanonicalizeRules = { ...DEFAULT_RULES, volatileToTail: true };
    const c = new Conversation(rng(3), `Today is 2026-12-03.\n${"Be brief. ".repeat(50)}`, TOOLS);
    for (let t = 0; t < 3; t++) {
      c.next();
      const whole = analyzeAnthropic({ ...request(c.body()), salt: "s", rules });
      expect(analyzeAnthropic({ ...request(c.body()), salt: "s", rules }, analysisMemo("t"))).toEqual(whole);
    }
    expect(analysisMemoSize().checkpoints).toBe(0);
  });

  it("gives the same analysis where a later turn carries its last turn's message objects (edge/body-memo.ts)", () => {
    clearBodyMemo();
    const r = rng(11);
    const c = new Conversation(r, SYSTEM, TOOLS);
    while (JSON.stringify(c.body()).length < MIN_BODY_CHARS) c.next();
    const enc = new TextEncoder();
    let last = request(c.body());
    keepParsed("t", enc.encode(last.raw), last.raw, last.body);
    const memo = analysisMemo("t");
    analyzeAnthropic({ ...last, salt: "s", rules: DEFAULT_RULES }, memo);
    for (let turn = 0; turn < 12; turn++) {
      c.next();
      const raw = JSON.stringify(c.body());
      const after = parseAfterKept("t", enc.encode(raw));
      if (!after) throw new Error("not read after the last turn's body");
      const messages = after.body.messages as Json[];
      // The history's objects are the last turn's own: their pre-pass is the one kept for them.
      expect(messages[1]).toBe((last.body.messages as Json[])[1]);
      const whole = analyzeAnthropic({ raw, body: JSON.parse(raw) as Json, salt: "s", rules: DEFAULT_RULES });
      expect(analyzeAnthropic({ ...after, salt: "s", rules: DEFAULT_RULES }, memo)).toEqual(whole);
      last = after;
    }
  });

  it("holds at most its bound of request characters", () => {
    const memo = analysisMemo("tenant-a");
    const big = "x".repeat(MAX_CHARS / 8);
    for (let k = 0; k < 40; k++) {
      const c = new Conversation(rng(k), `${big}${k}`, TOOLS);
      c.next();
      analyzeAnthropic({ ...request(c.body()), salt: "s", rules: DEFAULT_RULES }, memo);
      expect(analysisMemoSize().chars).toBeLessThanOrEqual(MAX_CHARS);
    }
    expect(analysisMemoSize().checkpoints).toBeGreaterThan(0);
  });
});

describe("an OpenAI Chat turn goes on from the last turn's checkpoint", () => {
  beforeEach(() => clearAnalysisMemo());

  /** A Chat conversation with a system message, tool calls (arguments in the model's order) and results. */
  function chat(r: () => number) {
    const messages: Json[] = [
      { role: "system", content: "You are a coding agent. ".repeat(40) },
      {
        role: "user",
        content: [{ type: "text", text: words(r, 30), prompt_cache_breakpoint: { mode: "explicit" } }],
      },
    ];
    return {
      messages,
      next() {
        const id = `call_${Math.floor(r() * 1e9)}`;
        const calls = r() < 0.6;
        messages.push({
          role: "assistant",
          content: calls ? null : words(r, 20),
          ...(calls
            ? {
                tool_calls: [
                  { id, type: "function", function: { name: "run", arguments: '{"z":"ls","a":1}' } },
                ],
              }
            : {}),
        });
        if (calls) messages.push({ role: "tool", tool_call_id: id, content: words(r, 30) });
        messages.push({
          role: "user",
          content: r() < 0.5 ? words(r, 12) : [{ type: "text", text: words(r, 12) }],
        });
      },
      body: (): Json => ({
        model: "gpt-5",
        tools: [
          { type: "function", function: { name: "run", parameters: { type: "object", properties: {} } } },
        ],
        messages,
      }),
    };
  }

  it("gives exactly the analysis a whole feed gives, turn after turn", () => {
    const r = rng(5);
    const { memo, resumed, fromHead } = counting(analysisMemo("tenant-a"), 1);
    const conversations = Array.from({ length: 4 }, () => chat(r));
    let continued = 0;
    for (let step = 0; step < 80; step++) {
      const c = conversations[Math.floor(r() * conversations.length)] as ReturnType<typeof chat>;
      const fresh = c.messages.length > 2;
      if (fresh && r() < 0.15) c.messages[c.messages.length - 1] = { role: "user", content: words(r, 7) };
      else c.next();
      if (fresh) continued++;
      const whole = analyzeOpenAIChat({ ...request(c.body()), salt: "salt-a", rules: DEFAULT_RULES });
      const again = analyzeOpenAIChat({ ...request(c.body()), salt: "salt-a", rules: DEFAULT_RULES }, memo);
      expect(again).toEqual(whole);
    }
    expect(continued).toBeGreaterThan(50);
    expect(resumed()).toBe(continued);
    expect(fromHead()).toBe(80 - continued - 1);
  });

  it("feeds a request whole when its system message or parameters differ", () => {
    const c = chat(rng(9));
    c.next();
    const { memo, resumed, fromHead } = counting(analysisMemo("tenant-a"), 1);
    analyzeOpenAIChat({ ...request(c.body()), salt: "s", rules: DEFAULT_RULES }, memo);
    c.next();
    for (const body of [
      { ...c.body(), messages: [{ role: "system", content: "Other." }, ...c.messages.slice(1)] },
      { ...c.body(), response_format: { type: "json_object" } },
    ]) {
      const whole = analyzeOpenAIChat({ ...request(body), salt: "s", rules: DEFAULT_RULES });
      expect(analyzeOpenAIChat({ ...request(body), salt: "s", rules: DEFAULT_RULES }, memo)).toEqual(whole);
    }
    expect(resumed()).toBe(0);
    expect(fromHead()).toBe(0);
  });
});

// A conversation the isolate never analyzed is planned before what follows its key is hashed (issue 19):
// the plan and the body sent must be those of the whole analysis, and the record's positions its hashes.

import { env } from "cloudflare:workers";
import type Anthropic from "@anthropic-ai/sdk";
import { beforeEach, describe, expect, it } from "vitest";
import { mulberry32 } from "../../bench/economics/synthetic.ts";
import { analyzeAnthropic } from "../../src/canonicalize/anthropic.ts";
import { analyzeOpenAIChat } from "../../src/canonicalize/openaiChat.ts";
import { DEFAULT_RULES } from "../../src/canonicalize/rules.ts";
import { getConfig } from "../../src/core/config.ts";
import type { PrefixState } from "../../src/decide/types.ts";
import { analysisMemo, clearAnalysisMemo } from "../../src/edge/analysis-memo.ts";
import { keepaliveCapture, rehashedCapture } from "../../src/edge/capture.ts";
import { type Prepared, prepare, settled, tenantSalt } from "../../src/edge/prepare.ts";
import { toRecord } from "../../src/edge/record.ts";
import type { PlanLookup } from "../../src/plan/context.ts";
import { DEFAULT_CACHE_SETTINGS } from "../../src/plan/settings.ts";
import { ChainWriter, isDeferredDigest } from "../../src/prefix/chain.ts";
import type { Analysis } from "../../src/prefix/types.ts";
import type { Outcome } from "../../src/upstream/outcome.ts";
import { anthropic, freshClient } from "../support/clients.ts";
import { eventually, tracker } from "../support/tracker.ts";

type Json = Record<string, unknown>;
type Flavor = "anthropic" | "chat";

const TENANT = "tenant-deferred";
const NOW = 1_800_000_000_000;
const config = getConfig(env);
const silent = { debug() {}, info() {}, warn() {}, error() {} };

const words = (r: () => number, n: number) =>
  Array.from({ length: n }, () => ["read", "the", "cache", "tool", "file", "edge"][Math.floor(r() * 6)]).join(
    " ",
  );

/** Turn `turns` of an agent's conversation (tool calls, results, client markers now and then), as a body. */
function conversation(flavor: Flavor, seed: number, turns: number): Json {
  const r = mulberry32(seed);
  const system = `${words(r, 3000)} (family ${seed % 3})`;
  const messages: Json[] = [];
  if (flavor === "chat") messages.push({ role: "system", content: system });
  messages.push({ role: "user", content: words(r, 400) });
  for (let t = 0; t < turns; t++) {
    const id = `call_${seed}_${t}`;
    if (flavor === "anthropic") {
      messages.push({
        role: "assistant",
        content: [
          { type: "text", text: words(r, 30) },
          { type: "tool_use", id, name: "read", input: { path: words(r, 2), line: t } },
        ],
      });
      const marked = r() < 0.3 ? { cache_control: { type: "ephemeral" } } : {};
      messages.push({
        role: "user",
        content: [{ type: "tool_result", tool_use_id: id, content: words(r, 300), ...marked }],
      });
    } else {
      messages.push({
        role: "assistant",
        content: words(r, 30),
        tool_calls: [
          { id, type: "function", function: { name: "read", arguments: JSON.stringify({ line: t }) } },
        ],
      });
      messages.push({ role: "tool", tool_call_id: id, content: words(r, 300) });
    }
  }
  const tool = { name: "read", description: "Reads a file.", input_schema: { type: "object" } };
  return flavor === "anthropic"
    ? { model: "claude-sonnet-4-5", max_tokens: 64, tools: [tool], system, messages }
    : {
        model: "gpt-4o",
        messages,
        tools: [
          {
            type: "function",
            function: { name: tool.name, description: tool.description, parameters: tool.input_schema },
          },
        ],
      };
}

/** The body's analysis with every hash and no memo: what a stateless isolate makes of it. */
function wholeAnalysis(flavor: Flavor, body: Json, tenantId = TENANT): Analysis {
  const input = { raw: JSON.stringify(body), body, salt: tenantSalt(config, tenantId), rules: DEFAULT_RULES };
  return flavor === "anthropic" ? analyzeAnthropic(input) : analyzeOpenAIChat(input);
}

const cachedState = (tokens: number): PrefixState => ({
  tokens,
  seen: 4,
  lastSeenMs: NOW - 60_000,
  cachedUntilMs: NOW + 120_000,
  ttl: "5m",
});

/** A lookup that knows `hashes` (cached, seen before) and the family's rate; `heard` as given. */
function lookupKnowing(hashes: ReadonlySet<string>, heard: boolean) {
  const asked: string[][] = [];
  const lookup = async (candidates: string[]): Promise<PlanLookup> => {
    asked.push(candidates);
    const known = new Map<string, PrefixState>();
    for (const h of candidates) if (hashes.has(h)) known.set(h, cachedState(2000));
    return { known, familyRatePerMin: 3, ...(heard ? { heard: true } : {}) };
  };
  return { lookup, asked };
}

function prepared(
  flavor: Flavor,
  body: Json,
  defer: boolean,
  lookup: (h: string[]) => Promise<PlanLookup>,
  withMemo = true,
): Promise<Prepared> {
  return prepare({
    endpoint: flavor === "anthropic" ? "messages" : "chat.completions",
    raw: JSON.stringify(body),
    body,
    tenantId: TENANT,
    tenantRules: {},
    settings: DEFAULT_CACHE_SETTINGS,
    config,
    canonicalizeHeader: null,
    nowMs: NOW,
    lookup,
    log: silent,
    ...(withMemo ? { memo: analysisMemo(TENANT) } : {}),
    defer,
  });
}

const outcomeOf = (flavor: Flavor): Outcome => ({
  requestId: "req-deferred",
  tenantId: TENANT,
  upstream: flavor === "anthropic" ? "anthropic" : "openai",
  endpoint: flavor === "anthropic" ? "messages" : "chat.completions",
  model: flavor === "anthropic" ? "claude-sonnet-4-5" : "gpt-4o",
  stream: false,
  status: 200,
  result: "ok",
  usage: null,
  startedAt: NOW,
  headersMs: 1,
  ttfbMs: 1,
  durationMs: 2,
  plan: null,
});

const comparable = (p: Prepared) => ({
  body: p.body,
  plan: p.plan,
  planText: p.planText,
  positions: p.positions,
  segments: p.analysis?.segments,
  family: p.analysis?.family,
  conversation: p.analysis?.conversation,
});

const CASES = (["anthropic", "chat"] as const).flatMap((flavor) =>
  [1, 2, 3, 4, 5, 6].map((seed) => ({ flavor, seed, turns: seed * 3 })),
);

describe("deferred hashing of a conversation the isolate never analyzed", () => {
  beforeEach(() => clearAnalysisMemo());

  it("a deferring chain writer hashes nothing more and gives placeholders", () => {
    const a = new ChainWriter("root");
    const b = new ChainWriter("root");
    a.str("head");
    b.str("head");
    const before = a.digest();
    expect(b.digest()).toBe(before);
    a.defer();
    a.str("anything");
    a.tag("M");
    const [p0, p1] = [a.digest(), a.digest()];
    expect([p0, p1].every(isDeferredDigest)).toBe(true);
    expect(p0).not.toBe(p1);
    expect(isDeferredDigest(before)).toBe(false);
    expect(() => a.snapshot()).toThrow();
    // Another writer's chain is untouched by the deferring one's calls.
    b.str("anything");
    expect(b.digest()).not.toBe(before);
    expect(b.digest()).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it.each(CASES)(
    "plans $flavor (seed $seed) exactly as the whole analysis does, and records its hashes",
    async ({ flavor, seed, turns }) => {
      const body = conversation(flavor, seed, turns);
      const whole = wholeAnalysis(flavor, body);
      // The family's head is known (another conversation of it went before); no position after the key is.
      const head = new Set(
        whole.segments.flatMap((s, i) => (i <= whole.headEnd && s.hash !== undefined ? [s.hash] : [])),
      );
      expect(head.size).toBeGreaterThan(0);
      const deferredLookup = lookupKnowing(head, false);
      const deferred = await prepared(flavor, body, true, deferredLookup.lookup);
      expect(deferred.analysis?.deferred).toBe(true);
      expect(deferred.hashLater).toBeDefined();
      expect(deferred.positions).toEqual([]);
      // Nothing that stands for an unhashed position is asked about.
      expect(deferredLookup.asked.flat().some(isDeferredDigest)).toBe(false);
      const capture = keepaliveCapture(deferred, deferred.body, new Headers(), "/v1/messages");
      const done = settled(deferred);

      clearAnalysisMemo();
      const now = await prepared(flavor, body, false, lookupKnowing(head, false).lookup);
      expect(now.analysis?.deferred).toBeUndefined();
      expect(now.hashLater).toBeUndefined();
      expect(comparable(done)).toEqual(comparable(now));
      expect(done.positions.length).toBeGreaterThan(head.size);
      expect(done.positions.some((p) => isDeferredDigest(p.hash))).toBe(false);
      // The stateless isolate's own analysis has the same hashes.
      expect(done.analysis?.segments.map((s) => s.hash)).toEqual(whole.segments.map((s) => s.hash));
      // A keepalive capture made before the hashes has the hash of its position once they are made.
      const nowCapture = keepaliveCapture(now, now.body, new Headers(), "/v1/messages");
      expect(capture && rehashedCapture(capture, done)).toEqual(nowCapture);
      // The record built from the deferred request (as bench:engine and the replay build it) has them too.
      const record = toRecord(outcomeOf(flavor), deferred, capture, config.models);
      expect(record.positions).toEqual(now.positions);
      expect(record.capture?.hash).toBe(nowCapture?.hash);
    },
  );

  it.each(CASES.filter((c) => c.seed <= 2))(
    "hashes $flavor (seed $seed) before planning when the isolate has word of the conversation",
    async ({ flavor, seed, turns }) => {
      const body = conversation(flavor, seed, turns);
      const whole = wholeAnalysis(flavor, body);
      // Every position is known: a plan from placeholders could differ.
      const all = new Set(whole.segments.flatMap((s) => (s.hash === undefined ? [] : [s.hash])));
      const asking = lookupKnowing(all, true);
      const heard = await prepared(flavor, body, true, asking.lookup);
      expect(heard.analysis?.deferred).toBeUndefined();
      expect(heard.hashLater).toBeUndefined();
      // Asked again, with the positions after the key.
      expect(asking.asked).toHaveLength(2);
      expect(asking.asked[1]?.length).toBeGreaterThan(asking.asked[0]?.length ?? 0);
      clearAnalysisMemo();
      const now = await prepared(flavor, body, false, lookupKnowing(all, true).lookup);
      expect(comparable(heard)).toEqual(comparable(now));
    },
  );

  it.each(["anthropic", "chat"] as const)(
    "keeps the %s conversation's checkpoint when it hashes, so its next turn goes on from it",
    async (flavor) => {
      const body = conversation(flavor, 7, 6);
      const lookup = lookupKnowing(new Set(), false).lookup;
      const first = await prepared(flavor, body, true, lookup);
      expect(first.analysis?.deferred).toBe(true);
      const nextBody = conversation(flavor, 7, 7);
      // Before the first turn's hashes are made, its next turn is deferred again (no checkpoint yet).
      expect((await prepared(flavor, nextBody, true, lookup)).analysis?.deferred).toBe(true);
      settled(first);
      const next = await prepared(flavor, nextBody, true, lookup);
      expect(next.analysis?.deferred).toBeUndefined();
      expect(next.analysis?.segments.map((s) => s.hash)).toEqual(
        wholeAnalysis(flavor, nextBody).segments.map((s) => s.hash),
      );
    },
  );

  it("never defers a conversation of one message, or without the memo", async () => {
    const lookup = lookupKnowing(new Set(), false).lookup;
    const one = conversation("anthropic", 8, 0);
    expect((await prepared("anthropic", one, true, lookup)).analysis?.deferred).toBeUndefined();
    const body = conversation("anthropic", 8, 4);
    const withoutMemo = await prepared("anthropic", body, true, lookup, false);
    expect(withoutMemo.analysis?.deferred).toBeUndefined();
    expect(withoutMemo.positions.length).toBeGreaterThan(0);
  });

  it("through the worker, a conversation's first request is recorded with the hashes of all its positions", async () => {
    clearAnalysisMemo();
    const { tenant, client } = freshClient(anthropic);
    const body = conversation("anthropic", 11, 5);
    const answer = await client.messages
      .create(body as unknown as Anthropic.MessageCreateParamsNonStreaming)
      .withResponse();
    expect(answer.response.status).toBe(200);
    const hashes = wholeAnalysis("anthropic", body, tenant.id).segments.flatMap((s) =>
      s.hash === undefined ? [] : [s.hash],
    );
    expect(hashes.length).toBeGreaterThan(10);
    // Recorded after the answer: every position, past the conversation's key too, is the tracker's to know.
    const found = await eventually(
      async () => await tracker(tenant.id).lookup(hashes, Date.now()),
      (r) => r.ok && Object.keys(r.value.states).length === hashes.length,
    );
    expect(found.ok && Object.keys(found.value.states).sort()).toEqual([...hashes].sort());
  });
});

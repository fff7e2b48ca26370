import { describe, expect, it } from "vitest";
import { runSuite } from "../../bench/economics/suite.ts";
import { traceFromLines } from "../../bench/economics/trace.ts";
import { BlockIds, PrefixForest } from "../../bench/replay/forest.ts";
import { type LogTrace, readLog } from "../../bench/replay/log.ts";
import { parseLine } from "../../bench/replay/parse.ts";
import { formatText, toJson, type WhatIf, whatIf } from "../../bench/replay/whatif.ts";

// The what-if command's logic (bench/replay/), without the file reading and the progress bar of cli.ts.

const T0 = Date.parse("2026-03-02T09:00:00Z");

/** A system prompt of about `tokens` tokens, made of distinct sentences. */
function systemPrompt(tokens: number, seed = "policy"): string {
  const lines: string[] = [];
  for (let i = 0; lines.join("\n").length < tokens * 4; i++) {
    lines.push(`${seed} rule ${i}: answer the question about item ${i * 7} plainly, cite section ${i % 13}.`);
  }
  return lines.join("\n");
}

const anthropicLine = (atMs: number, system: string, messages: unknown[]): string =>
  JSON.stringify({
    timestamp: atMs,
    provider: "anthropic",
    body: { model: "claude-sonnet-4-5", max_tokens: 256, system, messages },
  });

function mustRead(text: string): LogTrace {
  const log = readLog(text);
  if (!log) throw new Error("no valid line");
  return log;
}

const ANTHROPIC_KEYS = [
  "no_caching",
  "naive",
  "automatic",
  "write_all_5m",
  "write_all_1h",
  "fixed_pings",
  "break_even_pings",
  "second_sight",
  "stoker",
  "optimum",
];
const OPENAI_KEYS = ["automatic", "fixed_pings", "break_even_pings", "stoker", "optimum"];

describe("replay: reading a log", () => {
  it("reports each bad line with its 1-based line number and the reason, and skips it", () => {
    const good = anthropicLine(T0, systemPrompt(2000), [{ role: "user", content: "hello" }]);
    const text = [
      good, // 1
      '{"timestamp": 1, "provider": "anthropic", "body": {', // 2: invalid JSON
      "", // 3: blank, not a bad line
      JSON.stringify({ timestamp: T0, provider: "mistral", body: { model: "m", messages: [] } }), // 4
      JSON.stringify({
        timestamp: T0,
        provider: "openai",
        endpoint: "chat.completions",
        body: { model: "gpt-5" },
      }), // 5
      JSON.stringify({ provider: "anthropic", body: { model: "claude-sonnet-4-5", messages: [] } }), // 6
      "[1, 2, 3]", // 7
      JSON.stringify({ timestamp: "yesterday", provider: "anthropic", body: {} }), // 8
      JSON.stringify({ timestamp: 5, input_length: 1000, output_length: 1, hash_ids: [1, 2] }), // 9: wrong format
      JSON.stringify({ timestamp: T0, provider: "openai", endpoint: "/v1/embeddings", body: { model: "x" } }), // 10
      good, // 11
    ].join("\n");
    const log = mustRead(text);
    expect(log.requests).toBe(2);
    expect(log.lines).toBe(10);
    expect(log.skippedCount).toBe(8);
    expect(log.skipped.map((s) => s.line)).toEqual([2, 4, 5, 6, 7, 8, 9, 10]);
    const reason = (line: number): string => log.skipped.find((s) => s.line === line)?.reason ?? "";
    expect(reason(2)).toMatch(/^invalid JSON/);
    expect(reason(4)).toMatch(/unknown provider "mistral"/);
    expect(reason(5)).toMatch(/messages: Field required/);
    expect(reason(6)).toMatch(/missing timestamp/);
    expect(reason(7)).toBe("not a JSON object");
    expect(reason(8)).toMatch(/timestamp must be/);
    expect(reason(9)).toMatch(/trace line in a log of request bodies \(line 1 set the format\)/);
    expect(reason(10)).toMatch(/unknown endpoint/);
  });

  it("checks Mooncake lines: hash_ids must match input_length in 512-token blocks", () => {
    const log = mustRead(
      [
        JSON.stringify({ timestamp: 0, input_length: 1000, output_length: 5, hash_ids: [0, 1] }),
        JSON.stringify({ timestamp: 3000, input_length: 1000, output_length: 5, hash_ids: [0, 1, 2] }),
        JSON.stringify({ timestamp: 6000, input_length: 1500, output_length: 5, hash_ids: [0, 1, 7] }),
        JSON.stringify({ timestamp: 9000, input_length: 1500, hash_ids: [0, -1, 7] }),
        anthropicLine(T0, "short", [{ role: "user", content: "hi" }]),
      ].join("\n"),
    );
    expect(log.format).toBe("mooncake");
    expect(log.requests).toBe(2);
    expect(log.skipped.map((s) => s.line)).toEqual([2, 4, 5]);
    expect(log.skipped[0]?.reason).toMatch(/3 hash_ids for input_length 1000/);
    expect(log.skipped[2]?.reason).toMatch(/request body in a Mooncake trace/);
    // Ids are renumbered densely in order of first appearance; shared leading ids stay shared.
    expect(log.trace.requests.map((r) => [...r.ids])).toEqual([
      [0, 1],
      [0, 1, 2],
    ]);
  });

  it("accepts ISO and epoch-millisecond times, bare bodies, and infers the provider and endpoint", () => {
    const sys = systemPrompt(1500);
    const lines = [
      JSON.stringify({
        timestamp: "2026-03-02T09:00:00Z",
        model: "claude-sonnet-4-5",
        system: sys,
        messages: [{ role: "user", content: "a" }],
      }),
      JSON.stringify({ timestamp: T0 + 60_000, model: "gpt-5", instructions: sys, input: "b" }),
      JSON.stringify({
        timestamp: T0 + 120_000,
        model: "gpt-5",
        messages: [
          { role: "system", content: sys },
          { role: "user", content: "c" },
        ],
      }),
      JSON.stringify({
        timestamp: T0 + 180_000,
        provider: "openai",
        endpoint: "https://api.openai.com/v1/responses",
        body: { model: "gpt-5", input: "d" },
      }),
      JSON.stringify({ timestamp: T0, model: "llama-3", messages: [{ role: "user", content: "?" }] }),
    ];
    const parsed = lines.map(parseLine);
    expect(
      parsed.map((p) => (p.kind === "body" ? `${p.request.provider}:${p.request.endpoint}` : p.kind)),
    ).toEqual([
      "anthropic:messages",
      "openai:responses",
      "openai:chat.completions",
      "openai:responses",
      "error",
    ]);
    const first = parsed[0];
    expect(first?.kind === "body" && first.request.atMs).toBe(T0);
    expect(first?.kind === "body" && first.request.headTokens).toBeGreaterThan(1024);
    const log = mustRead(lines.join("\n"));
    expect(log.providers).toEqual({ anthropic: 1, openai: 3 });
    // Times start at the first request.
    expect(log.trace.requests.map((r) => r.atMs)).toEqual([0, 60_000, 120_000, 180_000]);
  });
});

// Each what-if replays every policy through the simulator in process: seconds, more on a busy machine.
describe("replay: prefixes of request bodies", { timeout: 60_000 }, () => {
  it("merges what different requests prove about one prefix (forest)", () => {
    const forest = new PrefixForest();
    const d = (hash: string, tokens: number, depth: number) => ({ hash, tokens, depth });
    // Request A digests its head, message 1 and message 3; B (a later turn) digests the head, 3 and 5.
    const a = forest.add([d("head", 600, 1), d("m1", 1100, 3), d("m3", 2100, 5)]);
    const b = forest.add([d("head", 600, 1), d("m3", 2100, 5), d("m5", 3000, 7)]);
    const ids = new BlockIds();
    const blocksA = forest.blocks(a.at(-1) as number, 2100, ids);
    const blocksB = forest.blocks(b.at(-1) as number, 3000, ids);
    // Blocks 0-3 (through token 2048) are proven shared by "m3"; block 4 of A is partial (2048-2100), B's is full.
    expect(blocksB.slice(0, 4)).toEqual(blocksA.slice(0, 4));
    expect(blocksB[4]).not.toBe(blocksA[4]);
    // Block 0 (through 512) is covered by "head", block 1 (through 1024) by "m1", which B learned from A.
    const c = forest.add([d("m1", 1100, 3), d("c2", 1500, 4)]);
    const blocksC = forest.blocks(c.at(-1) as number, 1500, ids);
    expect(blocksC.slice(0, 2)).toEqual(blocksA.slice(0, 2));
    expect(blocksC[2]).not.toBe(blocksA[2]);
  });

  it("a long conversation (more turns than the analyzer digests) reads its previous turns from cache", async () => {
    const sys = systemPrompt(1500);
    const messages: unknown[] = [];
    const lines: string[] = [];
    for (let turn = 0; turn < 30; turn++) {
      messages.push({
        role: "user",
        content: `question ${turn}: ${"please explain the details. ".repeat(40)}`,
      });
      lines.push(anthropicLine(T0 + turn * 30_000, sys, [...messages]));
      messages.push({ role: "assistant", content: `answer ${turn}: ${"here are the details. ".repeat(40)}` });
    }
    const log = mustRead(lines.join("\n"));
    const w = await whatIf(log, { file: "conversation", prices: "anthropic" });
    // Each turn adds about 500 tokens to a prompt that grows to ~25K: nearly everything is a re-read.
    expect(w.policies.write_all_5m?.hit_rate).toBeGreaterThan(0.85);
    expect(w.policies.write_all_5m?.cost_vs_no_caching).toBeLessThan(0.3);
  });
});

describe("replay: what each policy would cost", { timeout: 60_000 }, () => {
  // The same long system prompt every 60 s, each time with a different short question.
  const sys = systemPrompt(6000);
  const repeated = Array.from({ length: 40 }, (_, i) =>
    anthropicLine(T0 + i * 60_000, sys, [{ role: "user", content: `Question number ${i}?` }]),
  ).join("\n");

  it("a system prompt repeated every minute makes writing it, and Stoker, far cheaper than no caching", async () => {
    const log = mustRead(repeated);
    const w = await whatIf(log, { file: "repeated", prices: "anthropic" });
    const cost = (k: string): number => w.policies[k]?.cost_vs_no_caching ?? Number.NaN;
    expect(cost("no_caching")).toBe(1);
    expect(cost("write_all_5m")).toBeLessThan(0.25);
    expect(cost("stoker")).toBeLessThan(0.25);
    expect(cost("optimum")).toBeLessThanOrEqual(cost("stoker") + 1e-9);
    expect(w.policies.write_all_5m?.hit_rate).toBeGreaterThan(0.9);
    expect(w.totals.stoker_saves_vs_no_caching_pct).toBeGreaterThan(75);
    // The head never lapses (a request a minute); fixed pings only keep each question's own tail alive,
    // and no question comes back: every one of those pings is lost.
    expect(cost("fixed_pings")).toBeGreaterThan(cost("write_all_5m"));
    expect(w.policies.stoker?.pings).toBeLessThan(w.policies.fixed_pings?.pings ?? 0);
    // USD at claude-sonnet-4-5's $3 per million input tokens.
    expect(w.totals.no_caching_usd).toBeCloseTo((w.input_tokens * 3) / 1e6, 9);
    expect(w.policies.stoker?.cost_usd).toBeCloseTo(cost("stoker") * w.totals.no_caching_usd, 9);
  });

  it("prompts that share nothing gain nothing, and Stoker's first-sight premium is learned away", async () => {
    // An hour of unique system prompts, one a minute.
    const lines = Array.from({ length: 60 }, (_, i) =>
      anthropicLine(T0 + i * 60_000, systemPrompt(3000, `tenant${i}`), [{ role: "user", content: "hi" }]),
    );
    const w = await whatIf(mustRead(lines.join("\n")), { file: "unique", prices: "anthropic" });
    expect(w.policies.write_all_5m?.hit_rate).toBe(0);
    expect(w.policies.write_all_5m?.cost_vs_no_caching).toBeGreaterThan(1.2);
    // Stoker writes a new tenant's first heads for the hour (nothing says yet that they do not recur) and stops
    // once two first windows close without a return, then stops writing them at all as the misses add up: over
    // the hour it pays less than writing everything for 5 minutes.
    const stoker = w.policies.stoker?.cost_vs_no_caching ?? Number.NaN;
    expect(stoker).toBeLessThan(w.policies.write_all_5m?.cost_vs_no_caching ?? Number.NaN);
    expect(stoker).toBeLessThan(1.2);
    expect(w.policies.optimum?.cost_vs_no_caching).toBeCloseTo(1, 9);
  });

  it("--json: one object with every policy's cost, hit rate, pings and ping cost, the totals and skipped lines", async () => {
    const withBad = `${repeated}\nnot json\n`;
    const log = mustRead(withBad);
    for (const [prices, keys] of [
      ["anthropic", ANTHROPIC_KEYS],
      ["openai", OPENAI_KEYS],
    ] as const) {
      const w: WhatIf = await whatIf(log, { file: "x.jsonl", prices });
      const json = JSON.parse(toJson(w)) as WhatIf;
      expect(Object.keys(json.policies)).toEqual(keys);
      for (const k of keys) {
        const p = json.policies[k];
        expect(typeof p?.cost_usd).toBe("number");
        expect(typeof p?.hit_rate).toBe("number");
        expect(typeof p?.pings).toBe("number");
        expect(typeof p?.ping_cost_usd).toBe("number");
        expect(typeof p?.name).toBe("string");
      }
      expect(json.prices).toBe(prices);
      expect(json.skipped_lines).toBe(1);
      expect(json.skipped).toEqual([{ line: 41, reason: expect.stringMatching(/^invalid JSON/) }]);
      expect(json.requests).toBe(40);
      expect(json.totals.best_baseline.key).not.toBe("stoker");
      expect(json.totals.stoker_usd).toBeCloseTo(json.policies.stoker?.cost_usd ?? Number.NaN, 4);
      // The text report names every policy too.
      const text = formatText(w);
      for (const k of keys) expect(text).toContain(w.policies[k]?.name);
    }
  });

  it("runs the same suite as bench:economics on a Mooncake-format log", async () => {
    const raw = [
      { timestamp: 0, input_length: 2000, output_length: 1, hash_ids: [0, 1, 2, 3] },
      { timestamp: 30_000, input_length: 2500, output_length: 1, hash_ids: [0, 1, 2, 4, 5] },
      { timestamp: 400_000, input_length: 3000, output_length: 1, hash_ids: [0, 1, 2, 4, 6, 7] },
      { timestamp: 420_000, input_length: 1200, output_length: 1, hash_ids: [0, 8, 9] },
    ];
    const log = mustRead(raw.map((l) => JSON.stringify(l)).join("\n"));
    const w = await whatIf(log, { file: "t", prices: "anthropic" });
    const direct = await runSuite(traceFromLines(raw), "anthropic");
    for (const row of direct.rows) expect(w.policies[row.key]?.cost_vs_no_caching).toBe(row.result.cost);
  });
});

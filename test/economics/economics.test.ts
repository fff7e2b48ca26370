import { describe, expect, it } from "vitest";
import {
  costOfUsage,
  costWithoutCache,
  DEFAULT_MODELS,
  keepaliveBreakEvenProbability,
  mergeModelTable,
  modelInfo,
  writeBreakEvenReads,
  writeValue,
} from "../../src/economics/index.ts";

const usage = {
  inputTokens: 10_000,
  cacheReadTokens: 6_000,
  cacheWrite5mTokens: 3_000,
  cacheWrite1hTokens: 0,
  outputTokens: 500,
};

describe("model table", () => {
  it("finds dated and platform ids, and keeps versions apart", () => {
    expect(modelInfo("claude-sonnet-4-5-20250929")).toBe(DEFAULT_MODELS["claude-sonnet-4-5"]);
    expect(modelInfo("anthropic.claude-opus-4-1")).toBe(DEFAULT_MODELS["claude-opus-4-1"]);
    expect(modelInfo("claude-opus-4-1").inputPerMTok).toBe(15);
    expect(modelInfo("claude-opus-4-6").minCacheableTokens).toBe(4096);
    expect(modelInfo("gpt-4.1-2025-04-14")).toBe(DEFAULT_MODELS["gpt-4.1"]);
    expect(modelInfo("gpt-4.1-mini")).toBe(DEFAULT_MODELS["gpt-4.1-mini"]);
  });

  it("gives unknown models safe stand-ins, reading the OpenAI generation from the id", () => {
    const claude = modelInfo("claude-next-9");
    expect(claude.known).toBe(false);
    expect(claude.minCacheableTokens).toBe(4096);
    expect(modelInfo("gpt-7-nova").cacheStyle).toBe("openai-breakpoints");
    expect(modelInfo("gpt-5.5-mini").retention24h).toBe(true);
    expect(modelInfo("gpt-4.5-preview").cacheStyle).toBe("openai-implicit");
  });

  it("merges a deployment override", () => {
    const table = mergeModelTable(DEFAULT_MODELS, {
      "claude-sonnet-4-5": { inputPerMTok: 2 },
      "my-model": { provider: "openai", inputPerMTok: 1 },
    });
    expect(modelInfo("claude-sonnet-4-5", table).inputPerMTok).toBe(2);
    expect(modelInfo("claude-sonnet-4-5", table).cacheRead).toBeCloseTo(0.1);
    expect(modelInfo("my-model", table)).toMatchObject({ provider: "openai", inputPerMTok: 1, known: true });
    expect(() => mergeModelTable(DEFAULT_MODELS, { "new-model": { inputPerMTok: 1 } })).toThrow(/provider/);
    expect(DEFAULT_MODELS["claude-sonnet-4-5"]?.inputPerMTok).toBe(3);
  });
});

describe("cost", () => {
  it("prices a usage record with and without the cache", () => {
    // Sonnet 4.5: $3 input, $15 output; 1,000 uncached + 6,000 read at 0.1 + 3,000 written at 1.25.
    expect(costOfUsage("claude-sonnet-4-5", usage)).toBeCloseTo(
      (1000 * 3 + 6000 * 0.3 + 3000 * 3.75 + 500 * 15) / 1e6,
      10,
    );
    expect(costWithoutCache("claude-sonnet-4-5", usage)).toBeCloseTo((10_000 * 3 + 500 * 15) / 1e6, 10);
    expect(costOfUsage("claude-sonnet-4-5", { ...usage, uncachedTokens: 1000 })).toBeCloseTo(
      costOfUsage("claude-sonnet-4-5", usage),
      12,
    );
  });

  it("bills Haiku 5.5's long prompts at the higher band", () => {
    const long = {
      inputTokens: 150_000,
      cacheReadTokens: 0,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 0,
      outputTokens: 0,
    };
    expect(costWithoutCache("claude-haiku-5-5", long)).toBeCloseTo((150_000 * 0.5) / 1e6, 10);
  });

  it("states the break-evens the planner uses", () => {
    const sonnet = modelInfo("claude-sonnet-4-5");
    expect(writeBreakEvenReads(sonnet, "5m")).toBeCloseTo(0.25 / 0.9);
    expect(writeBreakEvenReads(sonnet, "1h")).toBeCloseTo(1 / 0.9);
    expect(keepaliveBreakEvenProbability(sonnet, "5m")).toBeCloseTo(0.1 / 1.15);
    expect(writeValue(sonnet, "5m", 1e6, 1)).toBeCloseTo(3 * (0.9 - 0.25));
    expect(writeValue(modelInfo("gpt-4.1"), "5m", 1e6, 0)).toBe(0);
  });
});

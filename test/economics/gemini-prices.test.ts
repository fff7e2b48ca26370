import { describe, expect, it } from "vitest";
import { GEMINI_MINIMUMS, geminiMinimum } from "../../sim/gemini/models.ts";
import { costOfUsage, costWithoutCache } from "../../src/economics/cost.ts";
import { modelInfo } from "../../src/economics/models.ts";
import { geminiUsage } from "../../src/upstream/gemini.ts";

describe("Gemini prices and usage (model table)", () => {
  it("bills 2.5 Flash: input $0.30, cached $0.03, output $2.50 per MTok, from usageMetadata", () => {
    const usage = geminiUsage({
      promptTokenCount: 10_000,
      cachedContentTokenCount: 8_000,
      candidatesTokenCount: 100,
      thoughtsTokenCount: 50,
    });
    expect(usage).toEqual({
      inputTokens: 10_000,
      uncachedTokens: 2_000,
      cacheReadTokens: 8_000,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 0,
      outputTokens: 150,
    });
    if (!usage) throw new Error("no usage");
    expect(costOfUsage("gemini-2.5-flash", usage)).toBeCloseTo(
      (2_000 * 0.3 + 8_000 * 0.03 + 150 * 2.5) / 1e6,
      12,
    );
    expect(costWithoutCache("gemini-2.5-flash", usage)).toBeCloseTo((10_000 * 0.3 + 150 * 2.5) / 1e6, 12);
  });

  it("bills 2.5 Pro prompts over 200k at 2x input and cache, 1.5x output", () => {
    const long = {
      inputTokens: 250_000,
      uncachedTokens: 50_000,
      cacheReadTokens: 200_000,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 0,
      outputTokens: 1000,
    };
    expect(costOfUsage("gemini-2.5-pro", long)).toBeCloseTo(
      (50_000 * 2.5 + 200_000 * 0.25 + 1000 * 15) / 1e6,
      12,
    );
    const short = { ...long, inputTokens: 150_000, uncachedTokens: 50_000, cacheReadTokens: 100_000 };
    expect(costOfUsage("gemini-2.5-pro", short)).toBeCloseTo(
      (50_000 * 1.25 + 100_000 * 0.125 + 1000 * 10) / 1e6,
      12,
    );
  });

  it("finds preview, numbered and models/ ids, and treats an unknown gemini-* id as Gemini", () => {
    expect(modelInfo("gemini-2.5-flash-preview-05-20").inputPerMTok).toBe(0.3);
    expect(modelInfo("models/gemini-2.5-flash-001").inputPerMTok).toBe(0.3);
    expect(modelInfo("gemini-2.5-flash-lite").inputPerMTok).toBe(0.1);
    expect(modelInfo("gemini-3-pro-preview").inputPerMTok).toBe(2);
    const unknown = modelInfo("gemini-9-ultra");
    expect(unknown.provider).toBe("gemini");
    expect(unknown.known).toBe(false);
  });

  it("agrees with the simulator on every minimum cacheable length", () => {
    for (const [id] of GEMINI_MINIMUMS) {
      expect(modelInfo(id).minCacheableTokens, id).toBe(geminiMinimum(id));
    }
    expect(modelInfo("gemini-9-ultra").minCacheableTokens).toBe(geminiMinimum("gemini-9-ultra"));
  });
});

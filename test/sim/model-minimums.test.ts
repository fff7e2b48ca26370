import { describe, expect, it } from "vitest";
import { KNOWN_MINIMUMS, minCacheableTokens } from "../../sim/anthropic/models.ts";
import { MIN_CACHED_TOKENS } from "../../sim/openai/prompt.ts";
import { DEFAULT_MODELS, modelInfo } from "../../src/economics/models.ts";

// The simulator stands for the provider, Stoker's model table is what Stoker believes: both take the
// minimum cacheable lengths from the providers' pages (sources next to each table), and must agree.
const models = Object.entries(DEFAULT_MODELS);

describe("minimum cacheable lengths: simulator and Stoker's model table agree", () => {
  it.each(models.filter(([, m]) => m.provider === "anthropic").map(([id]) => [id]))("%s", (id) => {
    const stoker = modelInfo(id).minCacheableTokens;
    expect(minCacheableTokens(id)).toBe(stoker);
    expect(minCacheableTokens(`${id}-20260101`)).toBe(stoker);
  });

  it("on every simulator row Stoker's table knows", () => {
    const known = KNOWN_MINIMUMS.filter(([id]) => DEFAULT_MODELS[id] !== undefined);
    expect(known.length).toBeGreaterThan(10);
    for (const [id, tokens] of known) expect([id, modelInfo(id).minCacheableTokens]).toEqual([id, tokens]);
  });

  it.each(models.filter(([, m]) => m.provider === "openai").map(([id]) => [id]))("%s", (id) => {
    expect(modelInfo(id).minCacheableTokens).toBe(MIN_CACHED_TOKENS);
  });

  it("the documented values (claude-opus-4-7 is 2048 in both)", () => {
    expect(minCacheableTokens("claude-opus-4-7")).toBe(2048);
    expect(modelInfo("claude-opus-4-7").minCacheableTokens).toBe(2048);
  });
});

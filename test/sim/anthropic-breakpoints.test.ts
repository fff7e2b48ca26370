import { describe, expect, it } from "vitest";
import { minCacheableTokens } from "../../sim/anthropic/models.ts";
import { freshNs, simulator, text, tokensOf } from "../support/sim.ts";
import { anthropicHeaders, cachedSystem, usageOf } from "../support/sim-anthropic.ts";

const MODEL = "claude-sonnet-4-5";
const SYS = text(2000, "sys");

describe("explicit breakpoints", () => {
  it("writes on the first request and reads on the next one with the same prefix", async () => {
    const sim = simulator();
    const h = anthropicHeaders(freshNs());
    const ask = (q: string) =>
      sim.postJson(
        "/anthropic/v1/messages",
        {
          model: MODEL,
          max_tokens: 200,
          system: cachedSystem(SYS),
          messages: [{ role: "user", content: q }],
        },
        h,
      );
    const first = await ask("Hello");
    expect(first.status).toBe(200);
    expect(usageOf(first.json)).toEqual({ input: 2, read: 0, write: 2000, w5m: 2000, w1h: 0 });
    const second = await ask("What now?");
    expect(usageOf(second.json)).toEqual({ input: 3, read: 2000, write: 0, w5m: 0, w1h: 0 });
  });

  it("splits creation by the TTL of the breakpoint that covers each span", async () => {
    const sim = simulator();
    const h = anthropicHeaders(freshNs());
    const tool = { name: "lookup", description: text(1100, "tool"), input_schema: { type: "object" } };
    const toolTokens = tokensOf(JSON.stringify(tool));
    const body = {
      model: MODEL,
      max_tokens: 50,
      tools: [{ ...tool, cache_control: { type: "ephemeral", ttl: "1h" } }],
      system: cachedSystem(text(1200, "sys"), "5m"),
      messages: [{ role: "user", content: "Hi" }],
    };
    const first = await sim.postJson("/anthropic/v1/messages", body, h);
    expect(usageOf(first.json)).toEqual({
      input: 1,
      read: 0,
      write: toolTokens + 1200,
      w5m: 1200,
      w1h: toolTokens,
    });
    const second = await sim.postJson("/anthropic/v1/messages", body, h);
    expect(usageOf(second.json)).toEqual({ input: 1, read: toolTokens + 1200, write: 0, w5m: 0, w1h: 0 });
  });

  it("does not hash cache_control: moving markers keeps the prefix", async () => {
    const sim = simulator();
    const h = anthropicHeaders(freshNs());
    const userBlock = { type: "text", text: text(300, "u"), cache_control: { type: "ephemeral" } };
    await sim.postJson(
      "/anthropic/v1/messages",
      {
        model: MODEL,
        max_tokens: 10,
        system: cachedSystem(SYS),
        messages: [{ role: "user", content: "Hello" }],
      },
      h,
    );
    const withUserMarker = await sim.postJson(
      "/anthropic/v1/messages",
      {
        model: MODEL,
        max_tokens: 10,
        system: cachedSystem(SYS),
        messages: [{ role: "user", content: [userBlock] }],
      },
      h,
    );
    expect(usageOf(withUserMarker.json)).toEqual({ input: 0, read: 2000, write: 300, w5m: 300, w1h: 0 });
    const systemUnmarked = await sim.postJson(
      "/anthropic/v1/messages",
      { model: MODEL, max_tokens: 10, system: SYS, messages: [{ role: "user", content: [userBlock] }] },
      h,
    );
    expect(usageOf(systemUnmarked.json)).toEqual({ input: 0, read: 2300, write: 0, w5m: 0, w1h: 0 });
  });

  it("invalidates only messages when tool_choice changes, everything when a tool changes", async () => {
    const sim = simulator();
    const h = anthropicHeaders(freshNs());
    const tool = { name: "lookup", description: text(1100, "tool"), input_schema: { type: "object" } };
    const toolTokens = tokensOf(JSON.stringify(tool));
    const body = (description: string, choice: string) => ({
      model: MODEL,
      max_tokens: 50,
      tools: [{ ...tool, description, cache_control: { type: "ephemeral", ttl: "1h" } }],
      tool_choice: { type: choice },
      system: cachedSystem(text(1200, "sys")),
      messages: [
        {
          role: "user",
          content: [{ type: "text", text: text(1100, "m"), cache_control: { type: "ephemeral" } }],
        },
      ],
    });
    const a = await sim.postJson("/anthropic/v1/messages", body(tool.description, "auto"), h);
    expect(usageOf(a.json)).toEqual({
      input: 0,
      read: 0,
      write: toolTokens + 2300,
      w5m: 2300,
      w1h: toolTokens,
    });
    const b = await sim.postJson("/anthropic/v1/messages", body(tool.description, "any"), h);
    expect(usageOf(b.json)).toEqual({ input: 0, read: toolTokens + 1200, write: 1100, w5m: 1100, w1h: 0 });
    const changed = `${tool.description.slice(0, -4)}zzzz`;
    const c = await sim.postJson("/anthropic/v1/messages", body(changed, "any"), h);
    expect(usageOf(c.json)).toEqual({
      input: 0,
      read: 0,
      write: toolTokens + 2300,
      w5m: 2300,
      w1h: toolTokens,
    });
  });
});

describe("minimum cacheable length", () => {
  it("caches nothing below the model minimum and raises no error", async () => {
    const sim = simulator();
    const h = anthropicHeaders(freshNs());
    const body = {
      model: MODEL,
      max_tokens: 10,
      system: cachedSystem(text(1000, "short")),
      messages: [{ role: "user", content: "Hello" }],
    };
    for (let i = 0; i < 2; i++) {
      const res = await sim.postJson("/anthropic/v1/messages", body, h);
      expect(res.status).toBe(200);
      expect(usageOf(res.json)).toEqual({ input: 1002, read: 0, write: 0, w5m: 0, w1h: 0 });
    }
  });

  it("uses the minimum of the model family, matching dated ids and aliases", async () => {
    const sim = simulator();
    const h = anthropicHeaders(freshNs());
    const write = async (model: string, tokens: number) => {
      const res = await sim.postJson(
        "/anthropic/v1/messages",
        {
          model,
          max_tokens: 10,
          system: cachedSystem(text(tokens, model)),
          messages: [{ role: "user", content: "Hi" }],
        },
        h,
      );
      return usageOf(res.json).write;
    };
    expect(await write("claude-opus-4-5-20251101", 4095)).toBe(0);
    expect(await write("claude-opus-4-5-20251101", 4096)).toBe(4096);
    expect(await write("claude-opus-5", 600)).toBe(600);
    expect(await write("claude-haiku-4-5", 2048)).toBe(0);
  });

  it("has the documented table", () => {
    expect(minCacheableTokens("claude-opus-5")).toBe(512);
    expect(minCacheableTokens("claude-fable-5-1")).toBe(512);
    expect(minCacheableTokens("claude-sonnet-5")).toBe(1024);
    expect(minCacheableTokens("claude-opus-4-8")).toBe(1024);
    expect(minCacheableTokens("claude-opus-4-7")).toBe(2048);
    expect(minCacheableTokens("claude-mythos-preview")).toBe(2048);
    expect(minCacheableTokens("claude-haiku-5-5")).toBe(4096);
    expect(minCacheableTokens("claude-opus-4-6")).toBe(4096);
    expect(minCacheableTokens("claude-opus-4-1-20250805")).toBe(1024);
    expect(minCacheableTokens("claude-opus-4-20250514")).toBe(1024);
    expect(minCacheableTokens("claude-sonnet-4-6")).toBe(1024);
    expect(minCacheableTokens("claude-haiku-4-5-20251001")).toBe(4096);
    expect(minCacheableTokens("claude-3-5-haiku-latest")).toBe(2048);
    expect(minCacheableTokens("claude-3-7-sonnet-20250219")).toBe(1024);
    expect(minCacheableTokens("some-unknown-model")).toBe(1024);
  });
});

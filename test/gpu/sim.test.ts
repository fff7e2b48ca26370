import { describe, expect, it } from "vitest";
import { createGpuBackend } from "../../sim/gpu/app.ts";
import { KvEngine } from "../../sim/gpu/engine.ts";
import { tokenize } from "../../sim/gpu/prompt.ts";

const blocks = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const engine = (capacityTokens: number) =>
  new KvEngine<string>({ capacityTokens, prefillTokensPerS: 1000, decodeTokensPerS: 100, overheadMs: 0 });

describe("the vLLM-like simulator (sim/gpu)", () => {
  it("reuses the longest cached run of leading 16-token blocks, always computing at least one token", () => {
    const e = engine(16_000);
    expect(e.submit({ blocks: blocks("a", 10), promptTokens: 170, outputTokens: 1 }, 0).cachedTokens).toBe(0);
    expect(
      e.submit({ blocks: blocks("a", 12), promptTokens: 200, outputTokens: 1 }, 10_000).cachedTokens,
    ).toBe(160);
    // A prompt of exactly 10 full blocks that are all cached still computes its last token: 9 blocks reused.
    expect(
      e.submit({ blocks: blocks("a", 10), promptTokens: 160, outputTokens: 1 }, 20_000).cachedTokens,
    ).toBe(144);
  });

  it("evicts the least recently used free blocks, a prompt's tail before its head", () => {
    const e = engine(16 * 12);
    e.submit({ blocks: blocks("a", 6), promptTokens: 96, outputTokens: 1 }, 0);
    e.submit({ blocks: blocks("b", 6), promptTokens: 96, outputTokens: 1 }, 1000);
    e.submit({ blocks: blocks("c", 3), promptTokens: 48, outputTokens: 1 }, 2000);
    e.advance(3000);
    // 12 blocks; each request also holds one decode block while it runs. b evicted a5; c took a4, a3, a2.
    expect(e.cachedPrefix(blocks("a", 6))).toBe(2);
    expect(e.cachedPrefix(blocks("b", 6))).toBe(6);
  });

  it("queues prefills first in, first out, and waits for memory held by running requests", () => {
    const e = engine(16 * 8);
    const one = e.submit({ blocks: blocks("a", 4), promptTokens: 64, outputTokens: 10 }, 0);
    const two = e.submit({ blocks: blocks("b", 2), promptTokens: 32, outputTokens: 1 }, 0);
    expect(one).toMatchObject({ startAt: 0, firstTokenAt: 64 });
    expect(two.startAt).toBe(one.firstTokenAt);
    expect(two.firstTokenAt).toBe(96);
    // Six blocks do not fit beside the running ones: the third starts when the first one ends.
    const three = e.submit({ blocks: blocks("c", 6), promptTokens: 96, outputTokens: 1 }, 0);
    expect(three.startAt).toBe(one.doneAt);
  });

  it("salts the whole block chain with cache_salt", () => {
    const text = "z".repeat(640);
    const a = tokenize(text, "m", "tenant-a", 16);
    expect(a.blocks).toHaveLength(10);
    expect(tokenize(text, "m", "tenant-a", 16).blocks).toEqual(a.blocks);
    const b = tokenize(text, "m", "tenant-b", 16);
    expect(b.blocks.some((h) => a.blocks.includes(h))).toBe(false);
  });

  it("answers like vLLM with prompt-token details, and rejects cache_salt where configured to", async () => {
    const { app } = createGpuBackend({ name: "g", acceptsCacheSalt: false });
    const body = { model: "m", messages: [{ role: "user", content: "x".repeat(400) }] };
    const post = (b: unknown) =>
      app.request("/v1/chat/completions", {
        method: "POST",
        body: JSON.stringify(b),
        headers: { "content-type": "application/json" },
      });
    const first = (await (await post(body)).json()) as {
      usage: { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } };
    };
    const second = (await (await post(body)).json()) as typeof first;
    expect(first.usage.prompt_tokens_details.cached_tokens).toBe(0);
    expect(second.usage.prompt_tokens_details.cached_tokens).toBe(
      Math.floor((first.usage.prompt_tokens - 1) / 16) * 16,
    );
    const salted = await post({ ...body, cache_salt: "s" });
    expect(salted.status).toBe(400);
    expect(await salted.json()).toMatchObject({ error: { type: "BadRequestError", code: 400 } });
  });
});

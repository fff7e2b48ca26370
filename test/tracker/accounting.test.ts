import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import type Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { type ChainSummary, SHAPE_BASE } from "../../src/prefix/diff.ts";
import { anthropic, longText, namespace, openai, simStats } from "../support/clients.ts";
import { freshTenant } from "../support/tenants.ts";
import { totalsAfter, tracker } from "../support/tracker.ts";

const MODEL = "claude-sonnet-4-6";

describe("tracker accounting matches what the provider billed, to the token", () => {
  it("a mixed conversation: streaming and not, Anthropic and OpenAI", async () => {
    const ns = namespace();
    const t = freshTenant();
    const claude = anthropic(ns, { apiKey: t.key });
    const system = longText(2500);
    const messages: Anthropic.MessageParam[] = [];
    for (let turn = 0; turn < 6; turn++) {
      messages.push({ role: "user", content: `Question ${turn}: ${longText(50, `q${turn}`)}` });
      const params = { model: MODEL, max_tokens: 64, system, messages: [...messages] };
      const reply =
        turn % 2 === 0
          ? await claude.messages.create(params)
          : await claude.messages.stream(params).finalMessage();
      messages.push({ role: "assistant", content: reply.content });
    }
    const gpt = openai(ns, { apiKey: t.key });
    await gpt.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: longText(1500) }],
    });
    const stream = await gpt.chat.completions.create({
      model: "gpt-4o-mini",
      stream: true,
      messages: [{ role: "user", content: longText(1500) }],
    });
    for await (const _ of stream) {
      // drain
    }

    const totals = await totalsAfter(t.id, 8);
    const billed = (await simStats(ns)).total;
    expect(totals.requests).toBe(8);
    expect(billed.requests).toBe(8);
    expect(totals.uncachedTokens).toBe(billed.uncached_input_tokens);
    expect(totals.cacheReadTokens).toBe(billed.cache_read_input_tokens);
    expect(totals.cacheWrite5mTokens).toBe(billed.cache_write_5m_input_tokens);
    expect(totals.cacheWrite1hTokens).toBe(billed.cache_write_1h_input_tokens);
    expect(totals.outputTokens).toBe(billed.output_tokens);
    expect(totals.cacheReadTokens).toBeGreaterThan(0);
    expect(totals.costUsd).toBeLessThan(totals.costWithoutCacheUsd);
  });
});

describe("a request too large to keep for keepalive", () => {
  it("is still accounted (the capture is dropped, not the record)", async () => {
    const ns = namespace();
    const t = freshTenant();
    const huge = "x".repeat(2_000_000);
    const client = anthropic(ns, { apiKey: t.key });
    const first = await client.messages.create({
      model: MODEL,
      max_tokens: 8,
      system: huge,
      messages: [{ role: "user", content: "One" }],
    });
    await client.messages.create({
      model: MODEL,
      max_tokens: 8,
      system: huge,
      messages: [
        { role: "user", content: "One" },
        { role: "assistant", content: first.content },
        { role: "user", content: "Two" },
      ],
    });
    const totals = await totalsAfter(t.id, 2);
    expect(totals.requests).toBe(2);
    expect(totals.cacheReadTokens).toBeGreaterThan(400_000);
    const rows = await runInDurableObject(tracker(t.id), (_i, state) =>
      state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM keepalive").one(),
    );
    expect(rows.n).toBe(0);
  });
});

describe("tracker durability and bounds", () => {
  const record = (requestId: string, input = 1000) => ({
    tenantId: "t",
    requestId,
    at: Date.now(),
    upstream: "anthropic" as const,
    endpoint: "messages",
    model: MODEL,
    stream: false,
    keepalive: false,
    status: 200,
    result: "ok",
    usage: {
      inputTokens: input,
      uncachedTokens: input - 600,
      cacheReadTokens: 500,
      cacheWrite5mTokens: 100,
      cacheWrite1hTokens: 0,
      outputTokens: 7,
    },
    costUsd: 0.001,
    costWithoutCacheUsd: 0.002,
    ttfbMs: 5,
    durationMs: 9,
    plan: null,
    family: null,
    conversation: null,
    estimatedTokens: input,
    positions: [],
    chain: null,
    pricing: { inputPerToken: 3e-6, cacheRead: 0.1 },
    capture: null,
  });

  it("200 concurrent records give exact totals, and a retried record counts once", async () => {
    const stub = tracker(freshTenant().id);
    await Promise.all(Array.from({ length: 200 }, (_, i) => stub.record(record(`req-${i}`, 1000 + i))));
    await stub.record(record("req-7", 1007));
    const totals = await stub.totals();
    expect(totals.requests).toBe(200);
    expect(totals.inputTokens).toBe(200 * 1000 + (199 * 200) / 2);
    expect(totals.cacheReadTokens).toBe(200 * 500);
    expect(totals.outputTokens).toBe(200 * 7);
  });

  it("a chain summary is checked column by column: one that does not hold together is dropped, the record kept", async () => {
    const stub = tracker(freshTenant().id);
    const shape = (k: number) => String.fromCharCode(SHAPE_BASE + k);
    const chain: ChainSummary = {
      h0: "h0-columns",
      family: "family-columns",
      layout: shape(0) + shape(1) + shape(1),
      shapes: ["system text", "message text"],
      messages: [-1, 0, 1],
      hashed: [0, 2],
      hashes: ["hash-aaaaaaaa", "hash-bbbbbbbb"],
      volatile: [0],
    };
    expect((await stub.record({ ...record("fine"), chain } as never)).ok).toBe(true);
    const bad: Partial<ChainSummary>[] = [
      { layout: shape(0) + shape(2) + shape(1) },
      { layout: `${shape(0)}${shape(1)}\u0010` },
      { messages: [-1, 0] },
      { messages: [-1, 0, 0.5] },
      { hashed: [2, 0] },
      { hashed: [0, 3] },
      { hashes: ["hash-aaaaaaaa"] },
      { hashes: ["hash-aaaaaaaa", "short"] },
      { volatile: [1, 1] },
      { shapes: ["message text", "elsewhere text"] },
    ];
    for (const [i, over] of bad.entries()) {
      const answer = await stub.record({ ...record(`bad-${i}`), chain: { ...chain, ...over } } as never);
      expect(answer.ok).toBe(true);
    }
    expect((await stub.totals()).requests).toBe(bad.length + 1);
    // Only the summary that held together was kept to diagnose the next request against.
    const kept = await runInDurableObject(stub, (_i, state) =>
      state.storage.sql.exec<{ summary: string }>("SELECT summary FROM recent_chains").toArray(),
    );
    expect(kept.map((r) => JSON.parse(r.summary))).toEqual([chain]);
  });

  it("state survives eviction", async () => {
    const stub = tracker(freshTenant().id);
    await stub.record(record("a"));
    await stub.record(record("b"));
    await evictDurableObject(stub);
    expect((await stub.totals()).requests).toBe(2);
  });

  it("bad RPC input is rejected without writing", async () => {
    const stub = tracker(freshTenant().id);
    const bad = [
      { ...record("x"), usage: { ...record("x").usage, cacheReadTokens: -1 } },
      { ...record("y"), positions: [{ hash: "short", tokens: 1, breakpoint: null }] },
      { ...record("z"), upstream: "elsewhere" },
      { ...record("w"), requestId: "" },
    ];
    for (const input of bad) {
      const answer = await stub.record(input as never);
      expect(answer.ok).toBe(false);
      if (!answer.ok) expect(answer.error).toMatch(/invalid tracker input/);
    }
    expect((await stub.lookup(["bad hash!"], Date.now())).ok).toBe(false);
    expect((await stub.totals()).requests).toBe(0);
    const rows = await runInDurableObject(stub, (_i, state) =>
      state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM prefixes").one(),
    );
    expect(rows.n).toBe(0);
  });

  it("one tenant's tracker holds none of another's rows", async () => {
    const a = freshTenant();
    const b = freshTenant();
    const ns = namespace();
    await anthropic(ns, { apiKey: a.key }).messages.create({
      model: MODEL,
      max_tokens: 8,
      messages: [{ role: "user", content: "Hi" }],
    });
    expect((await totalsAfter(a.id, 1)).requests).toBe(1);
    expect((await tracker(b.id).totals()).requests).toBe(0);
  });
});

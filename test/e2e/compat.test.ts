import { env } from "cloudflare:workers";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { getConfig } from "../../src/core/config.ts";
import { compatModelInfo } from "../../src/economics/compat.ts";
import { costOfUsage } from "../../src/economics/cost.ts";
import { admin, adminTenant } from "../support/admin.ts";
import { expectFiguresMatchBill, upstreamFigures } from "../support/analytics.ts";
import {
  compat,
  freshClient,
  longText,
  namespace,
  STOKER,
  simFault,
  simRequests,
  simStats,
  workerFetch,
} from "../support/clients.ts";
import { COMPAT_DEPLOY_KEYS } from "../support/compat.ts";
import { TEST_TENANTS } from "../support/tenants.ts";

const SYSTEM = `You answer questions about the manual. ${longText(600, "manual")}`;
type Usage = Record<string, unknown> & { prompt_tokens: number; completion_tokens: number };

describe("OpenAI-compatible upstreams through Stoker (openai SDK, baseURL /compat/{name}/v1)", () => {
  it("DeepSeek: JSON then streams; its own usage fields; accounting equals the simulator's bill", async () => {
    const { ns, tenant, client } = freshClient((ns, o) => compat("deepseek", ns, o));
    const model = "deepseek-flash";
    const first = await client.chat.completions.create({
      model,
      messages: [
        { role: "system", content: SYSTEM },
        { role: "user", content: "First question about the manual" },
      ],
    });
    const u1 = first.usage as unknown as Usage;
    expect(u1.prompt_cache_hit_tokens).toBe(0);
    expect(u1.prompt_cache_miss_tokens).toBe(u1.prompt_tokens);
    const answer = first.choices[0]?.message.content ?? "";
    expect(answer).toContain("Simulated reply");

    // Turn 2 streams without asking for usage: Stoker asks (include_usage) and hides the usage chunk again.
    const history = [
      { role: "system" as const, content: SYSTEM },
      { role: "user" as const, content: "First question about the manual" },
      { role: "assistant" as const, content: answer },
    ];
    const stream = await client.chat.completions.create({
      model,
      stream: true,
      messages: [...history, { role: "user", content: "Second question" }],
    });
    let text = "";
    let sawUsage = false;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if ("usage" in chunk) sawUsage = true;
    }
    expect(text).toContain("Simulated reply for turn 2");
    expect(sawUsage).toBe(false);

    // Turn 3 streams with include_usage: the client gets DeepSeek's usage chunk as DeepSeek sends it.
    const third = await client.chat.completions.create({
      model,
      stream: true,
      stream_options: { include_usage: true },
      messages: [
        ...history,
        { role: "user", content: "Second question" },
        { role: "assistant", content: text },
        { role: "user", content: "Third question" },
      ],
    });
    let u3: Usage | undefined;
    for await (const chunk of third) if (chunk.usage) u3 = chunk.usage as unknown as Usage;
    expect(u3?.prompt_cache_hit_tokens).toBeGreaterThan(600);
    expect((u3?.prompt_cache_hit_tokens as number) % 64).toBe(0);

    const reqs = await simRequests(ns);
    expect(reqs.map((r) => r.path)).toEqual(Array(3).fill("/compat/deepseek/chat/completions"));
    expect(reqs[0]?.headers.authorization).toBe(`Bearer ${COMPAT_DEPLOY_KEYS.deepseek}`);
    expect(JSON.stringify(reqs)).not.toContain(tenant.key);
    expect(JSON.parse(reqs[1]?.body ?? "{}").stream_options).toEqual({ include_usage: true });

    const bill = (await simStats(ns)).compat;
    expect(bill.requests).toBe(3);
    expect(bill.cache_read_input_tokens).toBeGreaterThan(1200);
    const row = await upstreamFigures(tenant.key, "compat:deepseek", 3);
    expect(row.requests).toBe(3);
    expectFiguresMatchBill(row, bill);
    expect(row.cache_write_tokens).toBe(0);
    const upstream = getConfig(env).compat.get("deepseek");
    if (!upstream) throw new Error("deepseek is configured in vitest.config.ts");
    const expected = costOfUsage(compatModelInfo(upstream, model), {
      inputTokens: bill.uncached_input_tokens + bill.cache_read_input_tokens,
      uncachedTokens: bill.uncached_input_tokens,
      cacheReadTokens: bill.cache_read_input_tokens,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 0,
      outputTokens: bill.output_tokens,
    });
    expect(Math.abs(row.cost_usd - expected)).toBeLessThan(1e-6);
  });

  it("OpenRouter + an Anthropic model: cache_control writes then reads; streams keep OpenRouter's own usage", async () => {
    const { ns, tenant, client } = freshClient((ns, o) => compat("openrouter", ns, o));
    const model = "anthropic/claude-sonnet-4.6";
    const messages = (question: string) => [
      {
        role: "system" as const,
        content: [{ type: "text" as const, text: SYSTEM, cache_control: { type: "ephemeral" } }],
      },
      { role: "user" as const, content: question },
    ];
    // biome-ignore lint/suspicious/noExplicitAny: cache_control is OpenRouter's field, not in the SDK's types.
    const first = await client.chat.completions.create({ model, messages: messages("One?") as any });
    const d1 = first.usage?.prompt_tokens_details as Record<string, number>;
    expect(d1.cache_write_tokens).toBeGreaterThan(600);
    expect(d1.cached_tokens).toBe(0);

    // No stream_options: OpenRouter ends every stream with usage, so Stoker adds and hides nothing.
    const stream = await client.chat.completions.create({
      model,
      stream: true,
      // biome-ignore lint/suspicious/noExplicitAny: as above.
      messages: messages("Two?") as any,
    });
    let usage: Record<string, unknown> | undefined;
    for await (const chunk of stream)
      if (chunk.usage) usage = chunk.usage as unknown as Record<string, unknown>;
    const d2 = usage?.prompt_tokens_details as Record<string, number>;
    expect(d2.cached_tokens).toBe(d1.cache_write_tokens);
    const reqs = await simRequests(ns);
    expect(reqs[1]?.path).toBe("/compat/openrouter/v1/chat/completions");
    expect(JSON.parse(reqs[1]?.body ?? "{}").stream_options).toBeUndefined();
    expect(JSON.parse(reqs[1]?.body ?? "{}").messages[0].content[0].cache_control).toEqual({
      type: "ephemeral",
    });

    const bill = (await simStats(ns)).compat;
    const row = await upstreamFigures(tenant.key, "compat:openrouter", 2);
    expect(row.cache_write_tokens).toBe(bill.cache_write_5m_input_tokens);
    expect(row.cache_read_tokens).toBe(bill.cache_read_input_tokens);
    expect(row.uncached_tokens).toBe(bill.uncached_input_tokens);
    expect(row.output_tokens).toBe(bill.output_tokens);
    expect(bill.cache_write_5m_input_tokens).toBe(d1.cache_write_tokens);
  });

  it("xAI and Moonshot presets read prompt_tokens_details.cached_tokens", async () => {
    for (const [name, model] of [
      ["xai", "grok-4.7"],
      ["moonshot", "kimi-k3"],
    ] as const) {
      const { ns, tenant, client } = freshClient((ns, o) =>
        compat(name, ns, { ...o, headers: { "x-grok-conv-id": "conv-1" } }),
      );
      const ask = (q: string) =>
        client.chat.completions.create({
          model,
          messages: [
            { role: "system", content: SYSTEM },
            { role: "user", content: q },
          ],
        });
      await ask("One?");
      const second = await ask("Two?");
      expect(second.usage?.prompt_tokens_details?.cached_tokens).toBeGreaterThan(0);
      // The client's routing header (xAI's x-grok-conv-id) reaches the upstream unchanged.
      const sent = (await simRequests(ns))[1]?.headers;
      expect(sent?.["x-grok-conv-id"]).toBe("conv-1");
      // No deploy key is configured for these two (the simulator needs none): the tenant key never goes instead.
      expect(sent?.authorization).toBeUndefined();
      const bill = (await simStats(ns)).compat;
      const row = await upstreamFigures(tenant.key, `compat:${name}`, 2);
      expect(row.cache_read_tokens).toBe(bill.cache_read_input_tokens);
      expect(row.uncached_tokens).toBe(bill.uncached_input_tokens);
    }
  });

  it("xAI: without the client's own x-grok-conv-id Stoker routes a family to one server; every repeat hits", async () => {
    const ns = namespace();
    const client = compat("xai", ns);
    const cached: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await client.chat.completions.create({
        model: "grok-4.7",
        messages: [
          { role: "system", content: SYSTEM },
          { role: "user", content: `Question ${i}` },
        ],
      });
      cached.push(res.usage?.prompt_tokens_details?.cached_tokens ?? -1);
    }
    const ids = new Set((await simRequests(ns)).map((r) => r.headers["x-grok-conv-id"]));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^stk-[A-Za-z0-9_-]{16}$/);
    expect(cached[0]).toBe(0);
    expect(cached.slice(1).every((c) => c > 1000)).toBe(true);
  });

  it("answers errors in OpenAI's shape: unknown name 404, bad body 400 (nothing forwarded), upstream 429 passed through", async () => {
    const ns = namespace();
    const unknown = compat("nosuch", ns);
    await expect(
      unknown.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] }),
    ).rejects.toMatchObject({
      status: 404,
      error: { type: "invalid_request_error" },
    });
    const res = await workerFetch(`${STOKER}/compat/deepseek/v1/chat/completions`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${TEST_TENANTS.alpha}`,
        "content-type": "application/json",
        "x-sim-namespace": ns,
      },
      body: JSON.stringify({ model: "deepseek-flash" }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { type: string; param: string } };
    expect(body.error).toMatchObject({ type: "invalid_request_error", param: "messages" });
    expect(await simRequests(ns)).toHaveLength(0);

    await simFault(ns, { provider: "compat", status: 429 });
    await expect(
      compat("deepseek", ns).chat.completions.create({
        model: "deepseek-flash",
        messages: [{ role: "user", content: "hi" }],
      }),
    ).rejects.toBeInstanceOf(OpenAI.RateLimitError);
  });

  it.each([
    ["ends early", { truncate_after_events: 2 }],
    ["is reset", { reset_after_events: 2 }],
  ])(
    "a DeepSeek stream that %s reaches the SDK as an error, not a silent truncation",
    async (_name, fault) => {
      const ns = namespace();
      await simFault(ns, { count: 1, ...fault });
      const run = async () => {
        const stream = await compat("deepseek", ns).chat.completions.create({
          model: "deepseek-flash",
          stream: true,
          messages: [{ role: "user", content: "Tell me a long story about the manual" }],
        });
        for await (const _ of stream) {
          // drain
        }
      };
      await expect(run()).rejects.toThrow(/upstream stream/);
    },
  );

  it("a tenant's own compat key (admin API, sealed) goes upstream; pass-through sends the client's", async () => {
    const t = await adminTenant();
    const set = await admin("PUT", `/v1/admin/tenants/${t.id}/provider-keys`, {
      compat: { deepseek: "sk-tenant-own-deepseek" },
    });
    expect(set.status).toBe(200);
    expect(set.body.compat_key_state).toEqual({ deepseek: "set" });
    expect(JSON.stringify(set.body)).not.toContain("sk-tenant-own-deepseek");
    const bad = await admin("PUT", `/v1/admin/tenants/${t.id}/provider-keys`, {
      compat: { nosuch: "sk-whatever-123" },
    });
    expect(bad.status).toBe(400);

    const ns = namespace();
    await compat("deepseek", ns, { apiKey: t.key }).chat.completions.create({
      model: "deepseek-flash",
      messages: [{ role: "user", content: "hi" }],
    });
    await compat("deepseek", ns, {
      apiKey: "sk-client-own-deepseek",
      headers: { "x-stoker-key": TEST_TENANTS.alpha },
    }).chat.completions.create({ model: "deepseek-flash", messages: [{ role: "user", content: "hi" }] });
    const [own, passthrough] = await simRequests(ns);
    expect(own?.headers.authorization).toBe("Bearer sk-tenant-own-deepseek");
    expect(passthrough?.headers.authorization).toBe("Bearer sk-client-own-deepseek");
    expect(JSON.stringify([own, passthrough])).not.toContain(t.key);
  });

  it("forwards stable bytes: the same tools in another order reach DeepSeek identically", async () => {
    const ns = namespace();
    const tool = (name: string) => ({
      type: "function" as const,
      function: {
        name,
        description: `${name} tool`,
        parameters: { type: "object", properties: { q: { type: "string" } } },
      },
    });
    const client = compat("deepseek", ns);
    for (const tools of [
      [tool("a"), tool("b")],
      [tool("b"), tool("a")],
    ])
      await client.chat.completions.create({
        model: "deepseek-flash",
        tools,
        messages: [{ role: "user", content: "hi" }],
      });
    const [a, b] = await simRequests(ns);
    expect(JSON.parse(a?.body ?? "").tools).toEqual(JSON.parse(b?.body ?? "").tools);
    // With the rules off (x-stoker-canonicalize: off) the two orders reach DeepSeek as the client sent them.
    const raw = compat("deepseek", ns, { headers: { "x-stoker-canonicalize": "off" } });
    for (const tools of [
      [tool("a"), tool("b")],
      [tool("b"), tool("a")],
    ])
      await raw.chat.completions.create({
        model: "deepseek-flash",
        tools,
        messages: [{ role: "user", content: "hi" }],
      });
    const [, , c, d] = await simRequests(ns);
    expect(JSON.parse(c?.body ?? "").tools).not.toEqual(JSON.parse(d?.body ?? "").tools);
  });
});

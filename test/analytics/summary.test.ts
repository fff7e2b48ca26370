import type Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { SummarySchema, TimeseriesSchema } from "../../src/analytics/schemas.ts";
import { api, sonnetCost } from "../support/analytics.ts";
import { anthropic, longText, namespace, openai, simStats } from "../support/clients.ts";
import { freshTenant } from "../support/tenants.ts";
import { totalsAfter } from "../support/tracker.ts";

const MODEL = "claude-sonnet-4-6";

/** A 5-turn Anthropic conversation (reads from turn 2) and 2 OpenAI requests for one fresh tenant. */
async function traffic() {
  const ns = namespace();
  const t = freshTenant();
  const claude = anthropic(ns, { apiKey: t.key });
  const system = longText(2500);
  const messages: Anthropic.MessageParam[] = [];
  for (let turn = 0; turn < 5; turn++) {
    messages.push({ role: "user", content: `Question ${turn}: ${longText(40, `q${turn}`)}` });
    const params = { model: MODEL, max_tokens: 32, system, messages: [...messages] };
    const reply =
      turn % 2 ? await claude.messages.stream(params).finalMessage() : await claude.messages.create(params);
    messages.push({ role: "assistant", content: reply.content });
  }
  const gpt = openai(ns, { apiKey: t.key });
  for (let i = 0; i < 2; i++)
    await gpt.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: longText(1500) }],
    });
  await totalsAfter(t.id, 7);
  return { ns, t, billed: await simStats(ns) };
}

describe("GET /v1/analytics/summary", () => {
  it("matches what the simulator billed, to the token and to the cent", async () => {
    const { t, billed } = await traffic();
    const { status, body } = await api("/v1/analytics/summary", t.key);
    expect(status).toBe(200);
    const s = SummarySchema.parse(body);
    const b = billed.total;
    expect(s.requests).toBe(7);
    expect(s.cache_read_tokens).toBe(b.cache_read_input_tokens);
    expect(s.cache_write_5m_tokens).toBe(b.cache_write_5m_input_tokens);
    expect(s.cache_write_1h_tokens).toBe(b.cache_write_1h_input_tokens);
    expect(s.cache_write_tokens).toBe(b.cache_write_5m_input_tokens + b.cache_write_1h_input_tokens);
    expect(s.uncached_tokens).toBe(b.uncached_input_tokens);
    expect(s.output_tokens).toBe(b.output_tokens);
    expect(s.input_tokens).toBe(
      b.uncached_input_tokens +
        b.cache_read_input_tokens +
        b.cache_write_5m_input_tokens +
        b.cache_write_1h_input_tokens,
    );
    expect(s.cache_read_tokens).toBeGreaterThan(0);
    expect(s.token_hit_rate).toBeCloseTo(s.cache_read_tokens / s.input_tokens, 5);

    // Per upstream: the Anthropic share priced here independently of Stoker's economics module.
    const a = s.by_upstream.find((u) => u.upstream === "anthropic");
    const o = s.by_upstream.find((u) => u.upstream === "openai");
    expect(a?.requests).toBe(5);
    expect(o?.requests).toBe(2);
    const want = sonnetCost(billed.anthropic);
    expect(Math.abs((a?.cost_usd ?? 0) - want.cost)).toBeLessThan(0.005);
    expect(Math.abs((a?.cost_without_cache_usd ?? 0) - want.withoutCache)).toBeLessThan(0.005);
    expect(a?.saved_usd).toBeCloseTo((a?.cost_without_cache_usd ?? 0) - (a?.cost_usd ?? 0), 5);
    // gpt-4o-mini: $0.15 / $0.60 per MTok, cached input at $0.075.
    const ob = billed.openai;
    const oCost =
      (ob.uncached_input_tokens * 0.15 + ob.cache_read_input_tokens * 0.075 + ob.output_tokens * 0.6) / 1e6;
    expect(Math.abs((o?.cost_usd ?? 0) - oCost)).toBeLessThan(0.005);
    expect(s.by_model.map((m) => m.model).sort()).toEqual(["claude-sonnet-4-6", "gpt-4o-mini"]);
    expect(s.cost_usd).toBeCloseTo((a?.cost_usd ?? 0) + (o?.cost_usd ?? 0), 5);
    expect(s.keepalive).toEqual({ pings: 0, cost_usd: 0, rewrites_avoided: 0, rewrites_avoided_usd: 0 });
    expect(s.net_saved_usd).toBeCloseTo(s.saved_usd, 6);
    expect(s.saved_usd).toBeGreaterThan(0);
  });

  it("timeseries buckets add up to the summary; a range before the traffic is empty", async () => {
    const { t } = await traffic();
    const summary = SummarySchema.parse((await api("/v1/analytics/summary", t.key)).body);
    const ts = TimeseriesSchema.parse((await api("/v1/analytics/timeseries?bucket=5m", t.key)).body);
    expect(ts.buckets.length).toBeGreaterThan(0);
    const sum = (k: "requests" | "cache_read_tokens" | "input_tokens") =>
      ts.buckets.reduce((n, b) => n + b[k], 0);
    expect(sum("requests")).toBe(summary.requests);
    expect(sum("cache_read_tokens")).toBe(summary.cache_read_tokens);
    expect(sum("input_tokens")).toBe(summary.input_tokens);
    const cost = ts.buckets.reduce((n, b) => n + b.cost_usd, 0);
    expect(Math.abs(cost - summary.cost_usd)).toBeLessThan(0.00001);
    for (const b of ts.buckets) expect(Date.parse(b.start) % 300_000).toBe(0);

    const old = new Date(Date.now() - 3 * 86_400_000).toISOString();
    const older = new Date(Date.now() - 4 * 86_400_000).toISOString();
    const empty = SummarySchema.parse(
      (await api(`/v1/analytics/summary?from=${older}&to=${old}`, t.key)).body,
    );
    expect(empty.requests).toBe(0);
    expect(empty.by_model).toEqual([]);
    // Epoch milliseconds work too, and `to` is exclusive.
    const now = Date.now();
    const ms = SummarySchema.parse(
      (await api(`/v1/analytics/summary?from=${now - 3600_000}&to=${now + 1000}`, t.key)).body,
    );
    expect(ms.requests).toBe(7);
  });

  it("another tenant sees none of it, and every key form works", async () => {
    const { t } = await traffic();
    const other = freshTenant();
    const theirs = SummarySchema.parse((await api("/v1/analytics/summary", other.key)).body);
    expect(theirs.requests).toBe(0);
    const viaApiKey = await api("/v1/analytics/summary", null, { "x-api-key": t.key });
    expect(SummarySchema.parse(viaApiKey.body).requests).toBe(7);
    const viaStokerKey = await api("/v1/analytics/summary", null, { "x-stoker-key": t.key });
    expect(SummarySchema.parse(viaStokerKey.body).requests).toBe(7);
  });
});

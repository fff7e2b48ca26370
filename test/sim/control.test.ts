import { describe, expect, it } from "vitest";
import { freshNs, simulator, text } from "../support/sim.ts";
import { anthropicHeaders, cachedSystem } from "../support/sim-anthropic.ts";

describe("control API", () => {
  it("answers health", async () => {
    const sim = simulator();
    expect(await sim.getJson("/__sim/health")).toEqual({ ok: true });
  });

  it("reports and advances the simulated clock", async () => {
    const base = Date.UTC(2026, 5, 1, 12);
    const sim = simulator({ now: () => base });
    const ns = freshNs();
    expect(await sim.getJson(`/__sim/clock?ns=${ns}`)).toEqual({
      ns,
      now_ms: base,
      now: "2026-06-01T12:00:00.000Z",
      offset_ms: 0,
    });
    expect((await sim.advance(ns, 90)).now).toBe("2026-06-01T12:01:30.000Z");
    const bad = await sim.app.request(`/__sim/clock?ns=${ns}`, {
      method: "POST",
      body: JSON.stringify({ advance_seconds: -1 }),
    });
    expect(bad.status).toBe(400);
  });

  it("totals billed usage per provider", async () => {
    const sim = simulator();
    const ns = freshNs();
    const body = {
      model: "claude-sonnet-4-5",
      max_tokens: 50,
      system: cachedSystem(text(1500, "s"), "1h"),
      messages: [{ role: "user", content: "Hello" }],
    };
    const a = (await sim.postJson("/anthropic/v1/messages", body, anthropicHeaders(ns))).json.usage;
    const b = (await sim.postJson("/anthropic/v1/messages", body, anthropicHeaders(ns))).json.usage;
    const o = (
      await sim.postJson(
        "/openai/v1/chat/completions",
        { model: "gpt-4o", messages: [{ role: "user", content: text(10) }] },
        { authorization: `Bearer ${ns}` },
      )
    ).json.usage;
    const stats = await sim.getJson(`/__sim/stats?ns=${ns}`);
    expect(stats.anthropic).toEqual({
      requests: 2,
      errors: 0,
      uncached_input_tokens: 4,
      cache_read_input_tokens: 1500,
      cache_write_5m_input_tokens: 0,
      cache_write_1h_input_tokens: 1500,
      output_tokens: a.output_tokens + b.output_tokens,
      storage_token_hours: 0,
    });
    expect(stats.openai).toMatchObject({
      requests: 1,
      uncached_input_tokens: 10,
      output_tokens: o.completion_tokens,
    });
    expect(stats.total.requests).toBe(3);
  });

  it("lists what the provider holds", async () => {
    const sim = simulator({ now: () => 1_000_000 });
    const ns = freshNs();
    await sim.post(
      "/anthropic/v1/messages",
      {
        model: "claude-sonnet-4-5",
        max_tokens: 5,
        system: cachedSystem(text(1200)),
        messages: [{ role: "user", content: "x" }],
      },
      anthropicHeaders(ns),
    );
    const cache = await sim.getJson(`/__sim/cache?ns=${ns}`);
    expect(cache.anthropic).toEqual([
      {
        hash: expect.any(String),
        position: 0,
        tokens: 1200,
        ttl: "5m",
        written_at_ms: 1_000_000,
        expires_at_ms: 1_300_000,
        hits: 0,
      },
    ]);
  });

  it("answers unknown provider paths with provider-shaped 404s", async () => {
    const sim = simulator();
    const a = await sim.postJson("/anthropic/v1/complete", {});
    expect(a.status).toBe(404);
    expect(a.json.error.type).toBe("not_found_error");
    const o = await sim.postJson("/openai/v1/embeddings", {});
    expect(o.status).toBe(404);
    expect(o.json.error.type).toBe("invalid_request_error");
  });
});

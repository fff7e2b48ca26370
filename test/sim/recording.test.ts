import { describe, expect, it } from "vitest";
import { SERVICE_HEADER } from "../../sim/provider-middleware.ts";
import { freshNs, simulator } from "../support/sim.ts";

describe("request recording", () => {
  it("records method, path, query, headers, raw body and simulated time, in order", async () => {
    const sim = simulator({ now: () => Date.UTC(2026, 0, 1) });
    const ns = freshNs();
    const raw = '{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}';
    await sim.advance(ns, 30);
    await sim.post("/anthropic/v1/messages?beta=true", raw, {
      "x-api-key": ns,
      "anthropic-version": "2023-06-01",
      "anthropic-beta": "extended-cache-ttl-2025-04-11",
    });
    await sim.post("/openai/v1/chat/completions", { model: "gpt-4o" }, { authorization: `Bearer ${ns}` });
    const { requests, dropped } = await sim.getJson(`/__sim/requests?ns=${ns}`);
    expect(dropped).toBe(0);
    expect(requests).toHaveLength(2);
    const [first, second] = requests;
    expect(first).toMatchObject({
      seq: 1,
      provider: "anthropic",
      method: "POST",
      path: "/anthropic/v1/messages",
      query: { beta: "true" },
      body: raw,
      time_ms: Date.UTC(2026, 0, 1) + 30_000,
      time: "2026-01-01T00:00:30.000Z",
      status: 200,
      fault: null,
    });
    expect(first.headers).toMatchObject({
      "x-api-key": ns,
      "anthropic-version": "2023-06-01",
      "anthropic-beta": "extended-cache-ttl-2025-04-11",
    });
    expect(first.usage).toMatchObject({ read: 0, write5m: 0, write1h: 0 });
    expect(second).toMatchObject({ seq: 2, provider: "openai", status: 400, usage: null });
    expect(second.headers.authorization).toBe(`Bearer ${ns}`);
  });

  it("says how long it worked on each provider request, answers and errors alike (x-sim-service-ms)", async () => {
    const sim = simulator();
    const ns = freshNs();
    const ok = await sim.post(
      "/anthropic/v1/messages",
      { model: "claude-sonnet-4-5", max_tokens: 5, messages: [{ role: "user", content: "hi" }] },
      { "x-api-key": ns, "anthropic-version": "2023-06-01" },
    );
    const stream = await sim.post(
      "/openai/v1/chat/completions",
      { model: "gpt-4o", stream: true, messages: [{ role: "user", content: "hi" }] },
      { authorization: `Bearer ${ns}` },
    );
    const bad = await sim.post(
      "/openai/v1/chat/completions",
      { model: "gpt-4o" },
      { authorization: `Bearer ${ns}` },
    );
    expect([ok.status, stream.status, bad.status]).toEqual([200, 200, 400]);
    for (const res of [ok, stream, bad]) {
      const ms = Number(res.headers.get(SERVICE_HEADER));
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThan(10_000);
    }
    await stream.text();
  });

  it("keeps at most maxRecordedRequests per namespace", async () => {
    const sim = simulator({ maxRecordedRequests: 2 });
    const ns = freshNs();
    for (let i = 0; i < 3; i++) await sim.post("/anthropic/v1/messages", "{}", { "x-api-key": ns });
    const { requests, dropped } = await sim.getJson(`/__sim/requests?ns=${ns}`);
    expect(dropped).toBe(1);
    expect(requests.map((r: { seq: number }) => r.seq)).toEqual([2, 3]);
  });

  it("keeps at most maxRecordedChars of bodies per namespace, the newest always", async () => {
    const sim = simulator({ maxRecordedChars: 250 });
    const ns = freshNs();
    const body = (n: number) => JSON.stringify({ pad: "x".repeat(n) });
    for (const n of [100, 100, 100]) await sim.post("/anthropic/v1/messages", body(n), { "x-api-key": ns });
    const kept = await sim.getJson(`/__sim/requests?ns=${ns}`);
    expect(kept.dropped).toBe(1);
    expect(kept.requests.map((r: { seq: number }) => r.seq)).toEqual([2, 3]);
    await sim.post("/anthropic/v1/messages", body(400), { "x-api-key": ns });
    const large = await sim.getJson(`/__sim/requests?ns=${ns}`);
    expect(large.dropped).toBe(3);
    expect(large.requests.map((r: { seq: number }) => r.seq)).toEqual([4]);
  });
});

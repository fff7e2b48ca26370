import { describe, expect, it } from "vitest";
import { freshNs, simulator, text } from "../support/sim.ts";
import { anthropicHeaders, cachedSystem, usageOf } from "../support/sim-anthropic.ts";

const body = {
  model: "claude-sonnet-4-5",
  max_tokens: 10,
  system: cachedSystem(text(2000, "shared")),
  messages: [{ role: "user", content: "Hello" }],
};

describe("namespaces", () => {
  it("isolate caches per API key, like organizations", async () => {
    const sim = simulator();
    const a = anthropicHeaders(freshNs());
    const b = anthropicHeaders(freshNs());
    await sim.postJson("/anthropic/v1/messages", body, a);
    expect(usageOf((await sim.postJson("/anthropic/v1/messages", body, b)).json).read).toBe(0);
    expect(usageOf((await sim.postJson("/anthropic/v1/messages", body, a)).json).read).toBe(2000);
  });

  it("prefer x-sim-namespace over the key, and take a Bearer token as the key", async () => {
    const sim = simulator();
    const ns = freshNs();
    await sim.postJson("/anthropic/v1/messages", body, { "x-sim-namespace": ns, "x-api-key": "shared-key" });
    const viaBearer = await sim.postJson("/anthropic/v1/messages", body, { authorization: `Bearer ${ns}` });
    expect(usageOf(viaBearer.json).read).toBe(2000);
    const recorded = await sim.getJson(`/__sim/requests?ns=${ns}`);
    expect(recorded.requests).toHaveLength(2);
    expect((await sim.getJson("/__sim/requests?ns=shared-key")).requests).toHaveLength(0);
    await sim.postJson("/anthropic/v1/messages", body, {});
    expect((await sim.getJson("/__sim/requests?ns=default")).requests).toHaveLength(1);
  });

  it("keep separate clocks, stats and faults, and reset independently", async () => {
    const sim = simulator();
    const a = freshNs();
    const b = freshNs();
    const clockA = await sim.advance(a, 120);
    expect(clockA.offset_ms).toBe(120_000);
    expect((await sim.getJson(`/__sim/clock?ns=${b}`)).offset_ms).toBe(0);
    await sim.arm(a, { status: 500 });
    expect((await sim.post("/anthropic/v1/messages", body, anthropicHeaders(b))).status).toBe(200);
    expect((await sim.post("/anthropic/v1/messages", body, anthropicHeaders(a))).status).toBe(500);
    expect((await sim.getJson(`/__sim/stats?ns=${a}`)).anthropic).toMatchObject({ requests: 0, errors: 1 });
    expect((await sim.getJson(`/__sim/stats?ns=${b}`)).anthropic).toMatchObject({ requests: 1, errors: 0 });
    await sim.app.request(`/__sim/reset?ns=${b}`, { method: "POST" });
    expect((await sim.getJson(`/__sim/stats?ns=${b}`)).anthropic.requests).toBe(0);
    expect((await sim.getJson(`/__sim/clock?ns=${a}`)).offset_ms).toBe(120_000);
    expect(usageOf((await sim.postJson("/anthropic/v1/messages", body, anthropicHeaders(b))).json).read).toBe(
      0,
    );
  });
});

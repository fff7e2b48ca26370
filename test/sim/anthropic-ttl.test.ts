import { describe, expect, it } from "vitest";
import { freshNs, simulator, text } from "../support/sim.ts";
import { anthropicHeaders, cachedSystem, usageOf } from "../support/sim-anthropic.ts";

const MODEL = "claude-sonnet-4-5";

function request(ttl?: "5m" | "1h") {
  return {
    model: MODEL,
    max_tokens: 10,
    system: cachedSystem(text(2000, "sys"), ttl),
    messages: [{ role: "user", content: "Hello" }],
  };
}

describe("cache TTLs", () => {
  it("expires a 5m entry after 5 idle minutes and restarts its TTL on every read", async () => {
    const sim = simulator();
    const ns = freshNs();
    const h = anthropicHeaders(ns);
    const send = async () => usageOf((await sim.postJson("/anthropic/v1/messages", request(), h)).json);
    expect((await send()).write).toBe(2000);
    await sim.advance(ns, 240);
    expect((await send()).read).toBe(2000);
    await sim.advance(ns, 240);
    expect((await send()).read).toBe(2000);
    await sim.advance(ns, 301);
    expect(await send()).toEqual({ input: 2, read: 0, write: 2000, w5m: 2000, w1h: 0 });
  });

  it("keeps a 1h entry for 10 minutes and more", async () => {
    const sim = simulator();
    const ns = freshNs();
    const h = anthropicHeaders(ns);
    const send = async () => usageOf((await sim.postJson("/anthropic/v1/messages", request("1h"), h)).json);
    expect((await send()).w1h).toBe(2000);
    await sim.advance(ns, 600);
    expect((await send()).read).toBe(2000);
    await sim.advance(ns, 3599);
    expect((await send()).read).toBe(2000);
    await sim.advance(ns, 3601);
    expect((await send()).w1h).toBe(2000);
  });

  it("takes a shorter 5m TTL from the ttlSeconds option", async () => {
    const sim = simulator({ ttlSeconds: 10 });
    const ns = freshNs();
    const h = anthropicHeaders(ns);
    const send = async () => usageOf((await sim.postJson("/anthropic/v1/messages", request(), h)).json);
    await send();
    await sim.advance(ns, 9);
    expect((await send()).read).toBe(2000);
    await sim.advance(ns, 11);
    expect((await send()).read).toBe(0);
  });
});

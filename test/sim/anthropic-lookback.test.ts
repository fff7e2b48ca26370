import { describe, expect, it } from "vitest";
import { freshNs, simulator, text } from "../support/sim.ts";
import { anthropicHeaders, usageOf } from "../support/sim-anthropic.ts";

const MODEL = "claude-sonnet-4-5";
const SYSTEM = text(1100, "sys");

/** A user message of `n` one-token blocks (positions 1..n after the system block), marker on the last. */
function body(n: number) {
  const content = Array.from({ length: n }, (_, i) => ({
    type: "text",
    text: `b${String(i).padStart(2, "0")}`,
    ...(i === n - 1 ? { cache_control: { type: "ephemeral" } } : {}),
  }));
  return { model: MODEL, max_tokens: 10, system: SYSTEM, messages: [{ role: "user", content }] };
}

async function readAfter(blocksLater: number) {
  const sim = simulator();
  const h = anthropicHeaders(freshNs());
  const write = await sim.postJson("/anthropic/v1/messages", body(1), h);
  expect(usageOf(write.json)).toEqual({ input: 0, read: 0, write: 1101, w5m: 1101, w1h: 0 });
  const res = await sim.postJson("/anthropic/v1/messages", body(1 + blocksLater), h);
  return usageOf(res.json);
}

describe("20-block lookback", () => {
  it("finds an entry 19 blocks before the breakpoint", async () => {
    expect(await readAfter(19)).toEqual({ input: 0, read: 1101, write: 19, w5m: 19, w1h: 0 });
  });

  it("finds an entry exactly 20 blocks before the breakpoint", async () => {
    expect(await readAfter(20)).toEqual({ input: 0, read: 1101, write: 20, w5m: 20, w1h: 0 });
  });

  it("misses an entry 21 blocks before the breakpoint and writes the whole prefix", async () => {
    expect(await readAfter(21)).toEqual({ input: 0, read: 0, write: 1122, w5m: 1122, w1h: 0 });
  });

  it("lets an intermediate breakpoint bridge a longer gap", async () => {
    const sim = simulator();
    const h = anthropicHeaders(freshNs());
    await sim.postJson("/anthropic/v1/messages", body(1), h);
    const long = body(30);
    const content = long.messages[0]?.content as Record<string, unknown>[];
    content[15] = { ...content[15], cache_control: { type: "ephemeral" } };
    const res = await sim.postJson("/anthropic/v1/messages", long, h);
    expect(usageOf(res.json)).toEqual({ input: 0, read: 1101, write: 29, w5m: 29, w1h: 0 });
  });
});

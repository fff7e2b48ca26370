import { env } from "cloudflare:workers";
import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import {
  converse,
  hitRateOf,
  inputCostOf,
  MODEL,
  promptTokens,
  tools,
} from "../../scripts/lib/conversation.ts";
import { anthropic, longText, namespace, simRequests } from "../support/clients.ts";
import { freshTenant, RAW_TENANT } from "../support/tenants.ts";

/**
 * Runs the scenario's conversation (scripts/lib/conversation.ts, which also produces the README's figure in
 * bench/report/conversation.md) through Stoker, or with `naive` straight to the simulator.
 */
async function conversation(turns: number, opts: { reorderToolKeys?: boolean; naive?: boolean } = {}) {
  const ns = namespace();
  const client = opts.naive
    ? new Anthropic({ baseURL: `${env.SIM_URL}/anthropic`, apiKey: ns, maxRetries: 0 })
    : anthropic(ns, { apiKey: freshTenant().key });
  return { ns, usage: await converse(client, turns, opts) };
}

/** One short question after the long system prompt and tools, the tool schemas' keys reordered or not. */
const sameQuestion = (
  client: Anthropic,
  system: string,
  reorder: boolean,
  options?: Anthropic.RequestOptions,
) =>
  client.messages.create(
    {
      model: MODEL,
      max_tokens: 16,
      system,
      tools: tools(reorder),
      messages: [{ role: "user", content: "Same question" }],
    },
    options,
  );

describe("a 10-turn conversation sent with no cache_control at all", () => {
  it("reads the cache from turn 2 on, as much as a client using automatic caching", {
    timeout: 30_000,
  }, async () => {
    const { ns, usage } = await conversation(10);
    for (const [turn, u] of usage.entries()) {
      if (turn > 0) expect(u.cache_read_input_tokens, `turn ${turn + 1}`).toBeGreaterThan(0);
    }
    const naive = (await conversation(10, { naive: true })).usage;
    const [hitRate, naiveHitRate] = [hitRateOf(usage), hitRateOf(naive)];
    const [cost, naiveCost] = [inputCostOf(usage), inputCostOf(naive)];
    console.log(
      `10-turn conversation: token hit rate ${(100 * hitRate).toFixed(1)}% and input cost ${cost.toFixed(0)} through Stoker; ${(100 * naiveHitRate).toFixed(1)}% and ${naiveCost.toFixed(0)} for a client that turns on automatic caching`,
    );
    // The yardstick is that trivial client's measured result, not a constant far below it (0.75 was). Stoker
    // is not better here: on turn 1 it leaves the user's message unwritten (the first-turn prior says a
    // conversation may not go on), which this conversation then pays for (measured: 1.1% more input cost,
    // 88.3% vs 88.6% read). Where conversations stop after one turn the same choice saves the write premium
    // ("a one-off request with a unique tail" below). So: within 2% of the trivial client's cost and 1 point
    // of its hit rate, not a fixed hit rate.
    // (Since #14 a new tenant learns from the priors fitted on the Mooncake trace: measured 1.1% more input
    // cost, 88.3% vs 88.6% read, after the isolate's first turn is planned without the tracker.)
    expect(cost).toBeLessThanOrEqual(naiveCost * 1.02);
    expect(hitRate).toBeGreaterThan(naiveHitRate - 0.01);
    // Stoker added the breakpoints: the client sent none.
    const first = JSON.parse((await simRequests(ns))[0]?.body ?? "{}");
    expect(JSON.stringify(first)).toContain("cache_control");
  });

  it("still hits when the client reorders the keys of its tool schemas between turns", async () => {
    const { usage } = await conversation(6, { reorderToolKeys: true });
    for (const [turn, u] of usage.entries()) {
      if (turn > 0) expect(u.cache_read_input_tokens, `turn ${turn + 1}`).toBeGreaterThan(0);
    }
  });

  it("without canonicalization the reordered schemas would bust the cache (control)", async () => {
    const ns = namespace();
    const client = anthropic(ns, { apiKey: freshTenant().key, headers: { "x-stoker-canonicalize": "off" } });
    const system = longText(3000, "rules");
    await sameQuestion(client, system, false);
    const second = await sameQuestion(client, system, true);
    expect(second.usage.cache_read_input_tokens ?? 0).toBe(0);
  });
});

describe("per-tenant canonicalization settings", () => {
  it("a tenant configured with every rule off is not canonicalized", async () => {
    const ns = namespace();
    const client = anthropic(ns, { apiKey: RAW_TENANT.key });
    const system = longText(3000, "rules");
    await sameQuestion(client, system, false);
    const second = await sameQuestion(client, system, true);
    expect(second.usage.cache_read_input_tokens ?? 0).toBe(0);
    // The request header still wins over the tenant's settings.
    const third = await sameQuestion(client, system, true, { headers: { "x-stoker-canonicalize": "on" } });
    expect(JSON.parse((await simRequests(ns))[2]?.body ?? "{}").tools[0].input_schema).toEqual({
      properties: tools(false)[0]?.input_schema.properties,
      required: ["query"],
      type: "object",
    });
    expect(third.usage).toBeTruthy();
  });
});

describe("a one-off request with a unique tail", () => {
  it("pays no write premium on that tail", async () => {
    const ns = namespace();
    const client = anthropic(ns, { apiKey: freshTenant().key });
    const tail = longText(4000, "unique-document");
    const reply = await client.messages.create({
      model: MODEL,
      max_tokens: 16,
      system: longText(1500, "rules"),
      messages: [{ role: "user", content: `Summarize: ${tail}` }],
    });
    const written = reply.usage.cache_creation_input_tokens ?? 0;
    // Whatever is written must stop before the unique tail: the tail alone is larger than all of it.
    expect(reply.usage.input_tokens).toBeGreaterThan(written);
    const sent = JSON.parse((await simRequests(ns))[0]?.body ?? "{}");
    expect(JSON.stringify(sent.messages)).not.toContain("cache_control");
  });
});

describe("the same history with a different last message each time", () => {
  it("reads the shared history from the third request on, instead of rewriting it", async () => {
    const ns = namespace();
    const client = anthropic(ns, { apiKey: freshTenant().key });
    const system = longText(1500, "rules");
    const history: Anthropic.MessageParam[] = [];
    for (let i = 0; i < 3; i++) {
      history.push({ role: "user", content: `Question ${i}: ${longText(400, `q${i}`)}` });
      history.push({ role: "assistant", content: `Answer ${i}: ${longText(400, `a${i}`)}` });
    }
    const usage: Anthropic.Usage[] = [];
    for (let i = 0; i < 5; i++) {
      const reply = await client.messages.create({
        model: MODEL,
        max_tokens: 16,
        system,
        messages: [...history, { role: "user", content: `Branch ${i}: ${longText(50, `b${i}`)}` }],
      });
      usage.push(reply.usage);
      // Let the tracker record the request before the next one plans.
      await new Promise((r) => setTimeout(r, 50));
    }
    const historyTokens = usage[0] ? promptTokens(usage[0]) * 0.8 : 0;
    for (const u of usage.slice(2)) expect(u.cache_read_input_tokens ?? 0).toBeGreaterThan(historyTokens);
  });
});

import { env } from "cloudflare:workers";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { longText, namespace, openai, simRequests, simStats } from "../support/clients.ts";
import { freshTenant } from "../support/tenants.ts";
import { totalsAfter } from "../support/tracker.ts";

// GPT-5.6+ through Stoker against the simulator's breakpoint cache (sim/README.md "GPT-5.6+ breakpoints"):
// Stoker marks the end of the stable head with an explicit prompt_cache_breakpoint, so conversations that
// share the head read it, and turns the implicit write of a first request's unique tail off.
const MODEL = "gpt-5.6-terra";
const SYSTEM = longText(2500, "catalogue");

type Details = { cached_tokens?: number; cache_write_tokens?: number };
const details = (c: OpenAI.ChatCompletion) => (c.usage?.prompt_tokens_details ?? {}) as Details;

async function firstTurns(client: OpenAI, questions: string[]) {
  const out: OpenAI.ChatCompletion[] = [];
  for (const q of questions) {
    out.push(
      await client.chat.completions.create({
        model: MODEL,
        messages: [
          { role: "system", content: SYSTEM },
          { role: "user", content: `${q}: ${longText(60, q)}` },
        ],
      }),
    );
    // Let the tracker record the request before the next one plans.
    await new Promise((r) => setTimeout(r, 50));
  }
  return out;
}

describe("GPT-5.6 explicit breakpoints planned by Stoker", () => {
  it("reads the shared head across conversations, where a naive client rewrites every prompt", {
    timeout: 30_000,
  }, async () => {
    const questions = ["alpha", "beta", "gamma", "delta"];
    const ns = namespace();
    const tenant = freshTenant();
    const viaStoker = await firstTurns(openai(ns, { apiKey: tenant.key }), questions);

    const sent = JSON.parse((await simRequests(ns))[0]?.body ?? "{}");
    expect(sent.messages[0].content[0].prompt_cache_breakpoint).toEqual({ mode: "explicit" });
    expect(sent.prompt_cache_options).toEqual({ mode: "explicit" });

    const head = details(viaStoker[0] as OpenAI.ChatCompletion).cache_write_tokens ?? 0;
    expect(head).toBeGreaterThan(2000);
    for (const c of viaStoker.slice(1)) expect(details(c)).toEqual({ ...details(c), cached_tokens: head });

    // The naive client: the same requests straight to the provider, no key, no breakpoints.
    const naiveNs = namespace();
    const naive = new OpenAI({ baseURL: `${env.SIM_URL}/openai/v1`, apiKey: naiveNs, maxRetries: 0 });
    const direct = await firstTurns(naive, questions);
    for (const c of direct) expect(details(c).cached_tokens).toBe(0);

    const stoker = (await simStats(ns)).openai;
    const baseline = (await simStats(naiveNs)).openai;
    const cost = (t: typeof stoker) =>
      t.uncached_input_tokens + 0.1 * t.cache_read_input_tokens + 1.25 * t.cache_write_5m_input_tokens;
    console.log(
      `GPT-5.6, 4 conversations sharing a head: Stoker ${cost(stoker).toFixed(0)} vs naive ${cost(baseline).toFixed(0)} input-token units`,
    );
    expect(cost(stoker)).toBeLessThan(cost(baseline) * 0.5);

    // Stoker accounts the writes the provider billed, to the token.
    const totals = await totalsAfter(tenant.id, questions.length);
    expect(totals.cacheWrite5mTokens).toBe(stoker.cache_write_5m_input_tokens);
    expect(totals.cacheReadTokens).toBe(stoker.cache_read_input_tokens);
    expect(totals.uncachedTokens).toBe(stoker.uncached_input_tokens);
  });

  it("lets a continuing conversation write its history implicitly and read it next turn", async () => {
    const ns = namespace();
    const client = openai(ns, { apiKey: freshTenant().key });
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: "system", content: SYSTEM }];
    const usage: Details[] = [];
    for (let turn = 0; turn < 4; turn++) {
      messages.push({ role: "user", content: `Turn ${turn}: ${longText(200, `u${turn}`)}` });
      const reply = await client.chat.completions.create({ model: MODEL, messages: [...messages] });
      usage.push(details(reply));
      messages.push({ role: "assistant", content: reply.choices[0]?.message.content ?? "" });
      await new Promise((r) => setTimeout(r, 50));
    }
    // From the third turn on, the previous turn's prompt (head and history) is read.
    for (const [i, u] of usage.entries()) {
      if (i >= 2) expect(u.cached_tokens ?? 0, `turn ${i + 1}`).toBeGreaterThan(2500 + 200 * (i - 1));
    }
  });
});

import { describe, expect, it } from "vitest";
import { freshNs, type Json, simulator, text } from "../support/sim.ts";

// GPT-5.6+ prompt caching. Sources: developers.openai.com/api/docs/guides/prompt-caching ("For GPT-5.6 models
// and later model families, cache writes cost 1.25x the uncached input token rate ... OpenAI reports writes
// in cache_write_tokens and reads in cached_tokens"); the `openai` SDK 6.49 types (prompt_cache_options:
// "With `implicit`, OpenAI creates one implicit breakpoint and writes up to the latest three explicit
// breakpoints in the request. With `explicit`, OpenAI does not create an implicit breakpoint and writes up to
// the latest four explicit breakpoints. If there are no explicit breakpoints, the request does not use prompt
// caching"; ttl "Defaults to `30m`, which is currently the only supported value"; prompt_cache_breakpoint
// "Marks the exact end of a reusable prompt prefix ... the boundary is not rounded to a token block").
const MODEL = "gpt-5.6-terra";
const BP = { mode: "explicit" };
const SYSTEM = text(2000, "stable");

function sys(breakpoint: boolean) {
  return {
    role: "system",
    content: [{ type: "text", text: SYSTEM, ...(breakpoint ? { prompt_cache_breakpoint: BP } : {}) }],
  };
}

async function chat(sim: ReturnType<typeof simulator>, ns: string, body: Json) {
  const res = await sim.postJson(
    "/openai/v1/chat/completions",
    { model: MODEL, ...body },
    { authorization: `Bearer ${ns}` },
  );
  expect(res.status).toBe(200);
  const d = res.json.usage.prompt_tokens_details;
  return { prompt: res.json.usage.prompt_tokens, cached: d.cached_tokens, write: d.cache_write_tokens };
}

describe("GPT-5.6+ implicit mode", () => {
  it("writes the prompt through the newest message and reads it exactly on the next turn", async () => {
    const sim = simulator();
    const ns = freshNs();
    const turn1 = [sys(false), { role: "user", content: "First question" }];
    const a = await chat(sim, ns, { messages: turn1 });
    expect(a).toEqual({ prompt: 2004, cached: 0, write: 2004 });
    const turn2 = [
      ...turn1,
      { role: "assistant", content: "An answer" },
      { role: "user", content: "Next one" },
    ];
    const b = await chat(sim, ns, { messages: turn2 });
    // Not rounded to 128 tokens: the read ends exactly at the previous implicit breakpoint.
    expect(b).toEqual({ prompt: 2009, cached: 2004, write: 5 });
  });

  it("misses a stable head followed by a changed suffix, unless an explicit breakpoint marks the head", async () => {
    const sim = simulator();
    const ns = freshNs();
    await chat(sim, ns, { messages: [sys(false), { role: "user", content: "Question A" }] });
    const implicitOnly = await chat(sim, ns, {
      messages: [sys(false), { role: "user", content: "Question B" }],
    });
    expect(implicitOnly).toMatchObject({ cached: 0, write: 2003 });

    const ns2 = freshNs();
    await chat(sim, ns2, { messages: [sys(true), { role: "user", content: "Question A" }] });
    const marked = await chat(sim, ns2, { messages: [sys(true), { role: "user", content: "Question B" }] });
    expect(marked).toEqual({ prompt: 2003, cached: 2000, write: 3 });
  });

  it("ignores a breakpoint on an assistant part", async () => {
    const sim = simulator();
    const ns = freshNs();
    const assistant = {
      role: "assistant",
      content: [{ type: "text", text: text(1500, "said"), prompt_cache_breakpoint: BP }],
    };
    const messages = (q: string) => [
      { role: "user", content: "Hi" },
      assistant,
      { role: "user", content: q },
    ];
    await chat(sim, ns, { messages: messages("One"), prompt_cache_options: { mode: "explicit" } });
    const again = await chat(sim, ns, { messages: messages("Two") });
    expect(again.cached).toBe(0);
  });
});

describe("GPT-5.6+ explicit mode", () => {
  it("caches nothing without explicit breakpoints", async () => {
    const sim = simulator();
    const ns = freshNs();
    const body = {
      messages: [sys(false), { role: "user", content: "Q" }],
      prompt_cache_options: { mode: "explicit", ttl: "30m" },
    };
    expect(await chat(sim, ns, body)).toMatchObject({ cached: 0, write: 0 });
    expect(await chat(sim, ns, body)).toMatchObject({ cached: 0, write: 0 });
  });

  it("writes only the latest four explicit breakpoints", async () => {
    const sim = simulator();
    const ns = freshNs();
    const parts = (n: number, last = "x") =>
      Array.from({ length: n }, (_, i) => ({
        type: "text",
        text: text(1100, i === n - 1 ? last : `p${i}`),
        prompt_cache_breakpoint: BP,
      }));
    const opts = { prompt_cache_options: { mode: "explicit" } };
    const first = await chat(sim, ns, { messages: [{ role: "system", content: parts(5) }], ...opts });
    expect(first).toEqual({ prompt: 5500, cached: 0, write: 5500 });
    // The first breakpoint (1100 tokens) was not written: a prompt that diverges after it misses.
    const one = await chat(sim, ns, { messages: [{ role: "system", content: parts(2, "other") }], ...opts });
    expect(one.cached).toBe(0);
    const two = await chat(sim, ns, { messages: [{ role: "system", content: parts(3, "other") }], ...opts });
    expect(two.cached).toBe(2200);
  });
});

describe("GPT-5.6+ usage, lifetime and validation", () => {
  it("reports cache_write_tokens on Responses and bills writes in the stats", async () => {
    const sim = simulator();
    const ns = freshNs();
    const body = {
      model: MODEL,
      input: [{ role: "user", content: [{ type: "input_text", text: SYSTEM, prompt_cache_breakpoint: BP }] }],
    };
    const res = await sim.postJson("/openai/v1/responses", body, { authorization: `Bearer ${ns}` });
    expect(res.json.usage.input_tokens_details).toEqual({ cached_tokens: 0, cache_write_tokens: 2000 });
    const stats = await sim.getJson(`/__sim/stats?ns=${ns}`);
    expect(stats.openai).toMatchObject({ uncached_input_tokens: 0, cache_write_5m_input_tokens: 2000 });
  });

  it("keeps an entry 30 minutes after its last use", async () => {
    const sim = simulator();
    const ns = freshNs();
    const body = { messages: [sys(true), { role: "user", content: "Q" }] };
    await chat(sim, ns, body);
    await sim.advance(ns, 29 * 60);
    expect((await chat(sim, ns, body)).cached).toBe(2001);
    await sim.advance(ns, 31 * 60);
    expect((await chat(sim, ns, body)).cached).toBe(0);
  });

  it("does not report cache_write_tokens on older models", async () => {
    const sim = simulator();
    const res = await sim.postJson(
      "/openai/v1/chat/completions",
      { model: "gpt-4o", messages: [{ role: "user", content: SYSTEM }] },
      { authorization: `Bearer ${freshNs()}` },
    );
    expect(res.json.usage.prompt_tokens_details.cache_write_tokens).toBeUndefined();
  });

  it.each([
    [{ model: "gpt-4o", prompt_cache_options: { mode: "explicit" } }, "prompt_cache_options"],
    [{ model: MODEL, prompt_cache_options: { ttl: "1h" } }, "prompt_cache_options.ttl"],
    [{ model: MODEL, prompt_cache_options: { mode: "sometimes" } }, "prompt_cache_options.mode"],
    [{ model: MODEL, prompt_cache_options: "explicit" }, "prompt_cache_options"],
  ])("rejects %j", async (extra, param) => {
    const sim = simulator();
    const res = await sim.postJson(
      "/openai/v1/chat/completions",
      { messages: [{ role: "user", content: "Hi" }], ...extra },
      { authorization: `Bearer ${freshNs()}` },
    );
    expect(res.status).toBe(400);
    expect(res.json.error.param).toBe(param);
  });
});

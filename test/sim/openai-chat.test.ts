import { describe, expect, it } from "vitest";
import { freshNs, simulator, text, tokensOf } from "../support/sim.ts";

const PATH = "/openai/v1/chat/completions";
const auth = (ns: string) => ({ authorization: `Bearer ${ns}` });

function chat(system: string, user: string, extra: Record<string, unknown> = {}) {
  return {
    model: "gpt-4o",
    prompt_cache_key: "conv-1",
    messages: [
      { role: "system", content: system },
      { role: "user", content: user },
    ],
    ...extra,
  };
}

describe("Chat Completions caching", () => {
  it("reports the shared prefix rounded down to 128-token chunks, with the exact usage shape", async () => {
    const sim = simulator();
    const h = auth(freshNs());
    const system = text(2000, "sys");
    const first = await sim.postJson(PATH, chat(system, "q1"), h);
    expect(first.json.usage.prompt_tokens_details.cached_tokens).toBe(0);
    const second = await sim.postJson(PATH, chat(system, "q2"), h);
    const completion = tokensOf(second.json.choices[0].message.content);
    expect(second.json.usage).toEqual({
      prompt_tokens: 2001,
      completion_tokens: completion,
      total_tokens: 2001 + completion,
      prompt_tokens_details: { cached_tokens: 1920, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    });
    expect(second.json).toMatchObject({
      object: "chat.completion",
      model: "gpt-4o",
      choices: [
        { index: 0, finish_reason: "stop", logprobs: null, message: { role: "assistant", refusal: null } },
      ],
    });
    expect(second.json.id).toMatch(/^chatcmpl-/);
  });

  it("caches only prompts of 1024 tokens or more, and never reports fewer than 1024 cached", async () => {
    const sim = simulator();
    const h = auth(freshNs());
    const cached = async (body: unknown) =>
      (await sim.postJson(PATH, body, h)).json.usage.prompt_tokens_details.cached_tokens;
    const short = chat(text(1000, "s"), "");
    expect(await cached(short)).toBe(0);
    expect(await cached(short)).toBe(0);
    const exact = chat(text(1024, "e"), "");
    expect(await cached(exact)).toBe(0);
    expect(await cached(exact)).toBe(1024);
    const head = text(1000, "h");
    expect(await cached(chat(head, text(500, "a")))).toBe(0);
    expect(await cached(chat(head, text(500, "b")))).toBe(0);
  });

  it("answers a forced function with a tool call", async () => {
    const sim = simulator();
    const tools = [{ type: "function", function: { name: "lookup", parameters: { type: "object" } } }];
    const named = await sim.postJson(
      PATH,
      chat("sys", "hi", { tools, tool_choice: { type: "function", function: { name: "lookup" } } }),
      auth(freshNs()),
    );
    expect(named.json.choices[0].finish_reason).toBe("stop");
    expect(named.json.choices[0].message.content).toBeNull();
    expect(named.json.choices[0].message.tool_calls).toEqual([
      {
        id: expect.stringMatching(/^call_/),
        type: "function",
        function: { name: "lookup", arguments: "{}" },
      },
    ]);
    expect(named.json.usage.completion_tokens).toBe(1);
    const required = await sim.postJson(
      PATH,
      chat("sys", "hi", { tools, tool_choice: "required" }),
      auth(freshNs()),
    );
    expect(required.json.choices[0].finish_reason).toBe("tool_calls");
  });

  it("caps output with max_completion_tokens", async () => {
    const sim = simulator();
    const res = await sim.postJson(PATH, chat("sys", "hi", { max_completion_tokens: 2 }), auth(freshNs()));
    expect(res.json.choices[0].finish_reason).toBe("length");
    expect(res.json.usage.completion_tokens).toBe(2);
  });
});

describe("OpenAI retention", () => {
  it("evicts in-memory entries after 5 idle minutes", async () => {
    const sim = simulator();
    const ns = freshNs();
    const body = chat(text(2048, "r"), "");
    await sim.postJson(PATH, body, auth(ns));
    await sim.advance(ns, 299);
    expect((await sim.postJson(PATH, body, auth(ns))).json.usage.prompt_tokens_details.cached_tokens).toBe(
      2048,
    );
    await sim.advance(ns, 301);
    expect((await sim.postJson(PATH, body, auth(ns))).json.usage.prompt_tokens_details.cached_tokens).toBe(0);
  });

  it("keeps 24h entries for hours on models that support it", async () => {
    const sim = simulator();
    const ns = freshNs();
    const body = { ...chat(text(2048, "r"), ""), model: "gpt-5.1", prompt_cache_retention: "24h" };
    await sim.postJson(PATH, body, auth(ns));
    await sim.advance(ns, 6 * 3600);
    expect((await sim.postJson(PATH, body, auth(ns))).json.usage.prompt_tokens_details.cached_tokens).toBe(
      2048,
    );
  });

  it("defaults to 24h on models that only support it, and rejects unsupported choices", async () => {
    const sim = simulator();
    const ns = freshNs();
    const body = { ...chat(text(2048, "r"), ""), model: "gpt-5.5" };
    await sim.postJson(PATH, body, auth(ns));
    await sim.advance(ns, 3600);
    expect((await sim.postJson(PATH, body, auth(ns))).json.usage.prompt_tokens_details.cached_tokens).toBe(
      2048,
    );

    const inMemory = await sim.postJson(PATH, { ...body, prompt_cache_retention: "in_memory" }, auth(ns));
    expect(inMemory.status).toBe(400);
    expect(inMemory.json.error).toMatchObject({
      type: "invalid_request_error",
      param: "prompt_cache_retention",
    });
    const on4o = await sim.postJson(PATH, chat("s", "u", { prompt_cache_retention: "24h" }), auth(ns));
    expect(on4o.status).toBe(400);
    expect(on4o.json.error.param).toBe("prompt_cache_retention");
  });
});

describe("Chat Completions errors", () => {
  it("uses the OpenAI error shape", async () => {
    const sim = simulator();
    const h = auth(freshNs());
    const missing = await sim.postJson(PATH, { model: "gpt-4o" }, h);
    expect(missing.status).toBe(400);
    expect(missing.json).toEqual({
      error: {
        message: "Missing required parameter: 'messages'.",
        type: "invalid_request_error",
        param: "messages",
        code: "missing_required_parameter",
      },
    });
    const empty = await sim.postJson(PATH, { model: "gpt-4o", messages: [] }, h);
    expect(empty.json.error.code).toBe("empty_array");
    const noModel = await sim.postJson(PATH, { messages: [{ role: "user", content: "x" }] }, h);
    expect(noModel.json.error.param).toBe("model");
    const options = await sim.postJson(PATH, chat("s", "u", { stream_options: { include_usage: true } }), h);
    expect(options.json.error.param).toBe("stream_options");
    expect(missing.headers.get("x-request-id")).toMatch(/^req_/);
  });
});

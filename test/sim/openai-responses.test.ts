import { describe, expect, it } from "vitest";
import { freshNs, simulator, text, tokensOf } from "../support/sim.ts";

const PATH = "/openai/v1/responses";
const auth = (ns: string) => ({ authorization: `Bearer ${ns}` });

describe("Responses API", () => {
  it("reports cached input tokens in input_tokens_details", async () => {
    const sim = simulator();
    const h = auth(freshNs());
    const instructions = text(3000, "ins");
    const body = (q: string) => ({ model: "gpt-5", instructions, input: q, prompt_cache_key: "user-7" });
    const first = await sim.postJson(PATH, body("first question"), h);
    expect(first.json.usage.input_tokens_details.cached_tokens).toBe(0);
    const second = await sim.postJson(PATH, body("second question"), h);
    const answer: string = second.json.output[0].content[0].text;
    expect(second.json.usage).toEqual({
      input_tokens: 3000 + tokensOf("second question"),
      input_tokens_details: { cached_tokens: 2944, cache_write_tokens: 0 },
      output_tokens: tokensOf(answer),
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 3000 + tokensOf("second question") + tokensOf(answer),
    });
    expect(second.json).toMatchObject({
      object: "response",
      status: "completed",
      model: "gpt-5",
      prompt_cache_key: "user-7",
      output: [{ type: "message", role: "assistant", status: "completed" }],
    });
    expect(second.json.id).toMatch(/^resp_/);
  });

  it("accepts input items and answers a forced function with a function_call item", async () => {
    const sim = simulator();
    const res = await sim.postJson(
      PATH,
      {
        model: "gpt-4.1",
        input: [{ role: "user", content: [{ type: "input_text", text: "call it" }] }],
        tools: [{ type: "function", name: "fetch_doc", parameters: { type: "object" } }],
        tool_choice: { type: "function", name: "fetch_doc" },
      },
      auth(freshNs()),
    );
    expect(res.json.output).toEqual([
      {
        id: expect.stringMatching(/^fc_/),
        type: "function_call",
        status: "completed",
        arguments: "{}",
        call_id: expect.stringMatching(/^call_/),
        name: "fetch_doc",
      },
    ]);
    expect(res.json.usage.input_tokens).toBe(
      tokensOf("call it") + tokensOf(JSON.stringify(res.json.tools[0])),
    );
  });

  it("stops at max_output_tokens with an incomplete response", async () => {
    const sim = simulator();
    const res = await sim.postJson(
      PATH,
      { model: "gpt-5", input: "hi", max_output_tokens: 16 },
      auth(freshNs()),
    );
    expect(res.json.status).toBe("completed");
    const short = (
      await sim.postJson(PATH, { model: "gpt-5", input: "hi", max_output_tokens: 15 }, auth(freshNs()))
    ).json;
    expect(short.error.code).toBe("integer_below_min_value");
    const long = await sim.postJson(
      PATH,
      { model: "gpt-5", input: text(100), max_output_tokens: 16 },
      auth(freshNs()),
    );
    expect(long.json.status).toBe("incomplete");
    expect(long.json.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(long.json.usage.output_tokens).toBe(16);
  });
});

import { describe, expect, it } from "vitest";
import { freshNs, type Json, simulator, sseEvents, text, tokensOf } from "../support/sim.ts";

const auth = (ns: string) => ({ authorization: `Bearer ${ns}` });

describe("Chat Completions streaming", () => {
  const body = (extra: Record<string, unknown>) => ({
    model: "gpt-4o-mini",
    stream: true,
    messages: [{ role: "user", content: text(100) }],
    ...extra,
  });

  it("with include_usage: usage null on every chunk, then one chunk with no choices and the usage", async () => {
    const sim = simulator();
    const res = await sim.post(
      "/openai/v1/chat/completions",
      body({ stream_options: { include_usage: true } }),
      auth(freshNs()),
    );
    const events = await sseEvents(res);
    expect(events.every((e) => e.event === undefined)).toBe(true);
    expect(events.at(-1)?.data).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data) as Json);
    for (const c of chunks) expect(c.object).toBe("chat.completion.chunk");
    const last = chunks.at(-1);
    const rest = chunks.slice(0, -1);
    for (const c of rest) {
      expect(c).toHaveProperty("usage", null);
      expect(c.choices).toHaveLength(1);
    }
    expect(rest[0].choices[0].delta).toEqual({ role: "assistant", content: "", refusal: null });
    expect(rest.at(-1).choices[0]).toEqual({ index: 0, delta: {}, logprobs: null, finish_reason: "stop" });
    const content = rest.map((c) => c.choices[0].delta.content ?? "").join("");
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({
      prompt_tokens: 100,
      completion_tokens: tokensOf(content),
      total_tokens: 100 + tokensOf(content),
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    });
  });

  it("without include_usage: no usage anywhere", async () => {
    const sim = simulator();
    const res = await sim.post("/openai/v1/chat/completions", body({}), auth(freshNs()));
    const events = await sseEvents(res);
    for (const e of events.slice(0, -1)) expect(JSON.parse(e.data)).not.toHaveProperty("usage");
  });
});

describe("Responses streaming", () => {
  it("sends typed, numbered events ending with response.completed carrying usage", async () => {
    const sim = simulator();
    const res = await sim.post(
      "/openai/v1/responses",
      { model: "gpt-5", stream: true, instructions: "Be brief.", input: "Hello" },
      auth(freshNs()),
    );
    const events = await sseEvents(res);
    const data = events.map((e) => JSON.parse(e.data) as Json);
    events.forEach((e, i) => {
      expect(data[i].type).toBe(e.event);
      expect(data[i].sequence_number).toBe(i);
    });
    const types = events.map((e) => e.event);
    const deltas = types.filter((t) => t === "response.output_text.delta").length;
    expect(deltas).toBeGreaterThan(0);
    expect(types).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      ...Array(deltas).fill("response.output_text.delta"),
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    const text = data.find((d) => d.type === "response.output_text.done").text;
    expect(
      data
        .filter((d) => d.type === "response.output_text.delta")
        .map((d) => d.delta)
        .join(""),
    ).toBe(text);
    const completed = data.at(-1).response;
    expect(completed.status).toBe("completed");
    expect(completed.usage).toEqual({
      input_tokens: tokensOf("Be brief.") + tokensOf("Hello"),
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      output_tokens: tokensOf(text),
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: tokensOf("Be brief.") + tokensOf("Hello") + tokensOf(text),
    });
    expect(data[0].response).toMatchObject({ status: "in_progress", usage: null, output: [] });
  });
});

import { describe, expect, it } from "vitest";
import { namespace, openai, simRequests } from "../support/clients.ts";
import { TEST_TENANTS, UPSTREAM_KEYS } from "../support/tenants.ts";

const MODEL = "gpt-4o-mini";

describe("OpenAI Chat Completions through Stoker (official SDK)", () => {
  it("answers non-streaming with usage and x-stoker-cache, using the tenant's provider key", async () => {
    const ns = namespace();
    const ask = { model: MODEL, messages: [{ role: "user" as const, content: "Hi" }] };
    const plain = await openai(ns).chat.completions.create(ask).withResponse();
    expect(plain.response.headers.get("x-stoker-cache")).toBeNull();
    const { data, response } = await openai(ns, { headers: { "x-stoker-usage": "header" } })
      .chat.completions.create(ask)
      .withResponse();
    expect(data.object).toBe("chat.completion");
    const cached = data.usage?.prompt_tokens_details?.cached_tokens ?? 0;
    expect(response.headers.get("x-stoker-cache")).toBe(
      `read=${cached} write=0 uncached=${(data.usage?.prompt_tokens ?? 0) - cached}`,
    );
    const [req] = await simRequests(ns);
    expect(req?.headers.authorization).toBe(`Bearer ${UPSTREAM_KEYS.openai}`);
    expect(JSON.stringify(req?.headers)).not.toContain(TEST_TENANTS.alpha);
  });

  it("streams without usage when the client did not ask, while asking upstream for it", async () => {
    const ns = namespace();
    const stream = await openai(ns).chat.completions.create({
      model: MODEL,
      stream: true,
      messages: [{ role: "user", content: "Tell me a story" }],
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) {
      expect(chunk.choices.length).toBeGreaterThan(0);
      expect("usage" in chunk).toBe(false);
    }
    const sent = JSON.parse((await simRequests(ns))[0]?.body ?? "{}");
    expect(sent.stream_options).toEqual({ include_usage: true });
  });

  it("keeps Stoker's plan when the client sent stream_options without include_usage", async () => {
    const ns = namespace();
    for (const options of [{ include_obfuscation: false }, { include_usage: false }]) {
      const { data: stream, response } = await openai(ns)
        .chat.completions.create({
          model: MODEL,
          stream: true,
          stream_options: options,
          messages: [{ role: "user", content: "Tell me a story" }],
        })
        .withResponse();
      const chunks = [];
      for await (const chunk of stream) chunks.push(chunk);
      for (const chunk of chunks) expect("usage" in chunk).toBe(false);
      const key = /key=(stk-[A-Za-z0-9_-]+)/.exec(response.headers.get("x-stoker-plan") ?? "")?.[1];
      expect(key).toBeDefined();
      const sent = JSON.parse((await simRequests(ns)).at(-1)?.body ?? "{}");
      expect(sent.prompt_cache_key).toBe(key);
      expect(sent.stream_options).toEqual({ ...options, include_usage: true });
    }
  });

  it("streams the usage chunk unchanged when the client asked for it", async () => {
    const ns = namespace();
    const stream = await openai(ns).chat.completions.create({
      model: MODEL,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "Tell me a story" }],
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(chunks[0]?.usage).toBeNull();
  });

  it("passes tools, tool calls and the idempotency header through; organization/project only with the client's own key", async () => {
    const ns = namespace();
    const client = openai(ns, {
      headers: {
        "OpenAI-Organization": "org-test",
        "OpenAI-Project": "proj-test",
        "Idempotency-Key": "idem-1",
      },
    });
    const res = await client.chat.completions.create({
      model: MODEL,
      tools: [
        {
          type: "function",
          function: { name: "lookup", parameters: { type: "object", properties: { q: { type: "string" } } } },
        },
      ],
      tool_choice: { type: "function", function: { name: "lookup" } },
      messages: [
        { role: "system", content: "Use tools." },
        { role: "user", content: "Find cats" },
      ],
    });
    expect(res.choices[0]?.message.tool_calls?.[0]?.type).toBe("function");
    const [req] = await simRequests(ns);
    expect(req?.headers["idempotency-key"]).toBe("idem-1");
    // Managed with the deploy's shared key: the tenant may not pick the operator's organization or project.
    expect(req?.headers["openai-organization"]).toBeUndefined();
    expect(req?.headers["openai-project"]).toBeUndefined();
    const own = namespace();
    await openai(own, {
      apiKey: "sk-openai-clients-own",
      headers: {
        "x-stoker-key": TEST_TENANTS.alpha,
        "OpenAI-Organization": "org-test",
        "OpenAI-Project": "proj-test",
      },
    }).chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "Find cats" }] });
    const [passed] = await simRequests(own);
    expect(passed?.headers["openai-organization"]).toBe("org-test");
    expect(passed?.headers["openai-project"]).toBe("proj-test");
  });
});

describe("OpenAI Responses through Stoker (official SDK)", () => {
  it("answers non-streaming with usage", async () => {
    const ns = namespace();
    const res = await openai(ns).responses.create({
      model: MODEL,
      instructions: "Be brief.",
      input: "Hello",
    });
    expect(res.object).toBe("response");
    expect(res.usage?.input_tokens).toBeGreaterThan(0);
    expect((await simRequests(ns))[0]?.path).toBe("/openai/v1/responses");
  });

  it("streams events through to response.completed", async () => {
    const ns = namespace();
    const stream = await openai(ns).responses.create({ model: MODEL, input: "Hello", stream: true });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types[0]).toBe("response.created");
    expect(types.at(-1)).toBe("response.completed");
    expect(types).toContain("response.output_text.delta");
  });
});

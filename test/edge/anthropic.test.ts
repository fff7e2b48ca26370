import { describe, expect, it } from "vitest";
import { anthropic, longText, namespace, STOKER, simRequests, workerFetch } from "../support/clients.ts";
import { TEST_TENANTS, UPSTREAM_KEYS } from "../support/tenants.ts";

const MODEL = "claude-sonnet-4-6";
// 1x1 transparent PNG.
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

describe("Anthropic Messages through Stoker (official SDK)", () => {
  it("answers a non-streaming request as it arrives: x-stoker-cache only when asked for (x-stoker-usage: header)", async () => {
    const ns = namespace();
    const ask = { model: MODEL, max_tokens: 64, messages: [{ role: "user" as const, content: "Hi" }] };
    const plain = await anthropic(ns).messages.create(ask).withResponse();
    expect(plain.data.type).toBe("message");
    expect(plain.response.headers.get("x-stoker-cache")).toBeNull();
    const { data, response } = await anthropic(ns, { headers: { "x-stoker-usage": "header" } })
      .messages.create({
        model: MODEL,
        max_tokens: 64,
        system: "You are terse.",
        messages: [{ role: "user", content: "Hi" }],
      })
      .withResponse();
    expect(data.type).toBe("message");
    expect(data.content[0]?.type).toBe("text");
    expect(response.headers.get("x-stoker-cache")).toBe(
      `read=${data.usage.cache_read_input_tokens ?? 0} write=${data.usage.cache_creation_input_tokens ?? 0} uncached=${data.usage.input_tokens}`,
    );
    expect(response.headers.get("x-stoker-request-id")).toMatch(/^req_stk_[0-9a-f]{32}$/);
    expect(response.headers.get("x-stoker-upstream")).toBe("simulator");
  });

  it("sends the tenant's provider key upstream, never the Stoker key", async () => {
    const ns = namespace();
    await anthropic(ns).messages.create({
      model: MODEL,
      max_tokens: 8,
      messages: [{ role: "user", content: "Hi" }],
    });
    const [req] = await simRequests(ns);
    expect(req?.headers["x-api-key"]).toBe(UPSTREAM_KEYS.anthropic);
    expect(JSON.stringify(req?.headers)).not.toContain(TEST_TENANTS.alpha);
    expect(req?.headers["anthropic-version"]).toBeTruthy();
  });

  it("accepts the tenant key as x-api-key as well as Authorization: Bearer", async () => {
    const ns = namespace();
    const body = JSON.stringify({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "Hi" }] });
    const auths: Record<string, string>[] = [
      { "x-api-key": TEST_TENANTS.alpha },
      { authorization: `Bearer ${TEST_TENANTS.alpha}` },
    ];
    for (const auth of auths) {
      const res = await workerFetch(`${STOKER}/anthropic/v1/messages`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "anthropic-version": "2023-06-01",
          "x-sim-namespace": ns,
          ...auth,
        },
        body,
      });
      expect(res.status).toBe(200);
    }
  });

  it("pass-through mode forwards the client's own provider key and drops x-stoker-key", async () => {
    const ns = namespace();
    const res = await workerFetch(`${STOKER}/anthropic/v1/messages`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "x-api-key": "sk-ant-client-own-key",
        "x-stoker-key": TEST_TENANTS.beta,
        "x-sim-namespace": ns,
      },
      body: JSON.stringify({ model: MODEL, max_tokens: 8, messages: [{ role: "user", content: "Hi" }] }),
    });
    expect(res.status).toBe(200);
    const [req] = await simRequests(ns);
    expect(req?.headers["x-api-key"]).toBe("sk-ant-client-own-key");
    expect(req?.headers["x-stoker-key"]).toBeUndefined();
  });

  it("streams: events arrive in order and the final message carries usage", async () => {
    const ns = namespace();
    const stream = anthropic(ns).messages.stream({
      model: MODEL,
      max_tokens: 64,
      messages: [{ role: "user", content: "Tell me something" }],
    });
    const types: string[] = [];
    stream.on("streamEvent", (e) => types.push(e.type));
    const final = await stream.finalMessage();
    expect(types[0]).toBe("message_start");
    expect(types.at(-1)).toBe("message_stop");
    expect(types).toContain("content_block_delta");
    expect(final.usage.output_tokens).toBeGreaterThan(0);
  });

  it("carries tools, tool_use and tool_result across turns", async () => {
    const ns = namespace();
    const client = anthropic(ns);
    const tools = [
      {
        name: "get_weather",
        description: "Weather for a city",
        input_schema: {
          type: "object" as const,
          properties: { city: { type: "string" } },
          required: ["city"],
        },
      },
    ];
    const first = await client.messages.create({
      model: MODEL,
      max_tokens: 64,
      tools,
      tool_choice: { type: "tool", name: "get_weather" },
      messages: [{ role: "user", content: "Weather in Paris?" }],
    });
    const toolUse = first.content.find((b) => b.type === "tool_use");
    expect(toolUse?.type).toBe("tool_use");
    if (toolUse?.type !== "tool_use") return;
    const second = await client.messages.create({
      model: MODEL,
      max_tokens: 64,
      tools,
      messages: [
        { role: "user", content: "Weather in Paris?" },
        { role: "assistant", content: first.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: toolUse.id, content: "18C, sunny" }] },
      ],
    });
    expect(second.content.length).toBeGreaterThan(0);
    const sent = JSON.parse((await simRequests(ns))[1]?.body ?? "{}");
    expect(sent.messages[2].content[0].tool_use_id).toBe(toolUse.id);
  });

  it("keeps the client's own cache_control and system blocks byte for byte", async () => {
    const ns = namespace();
    const system = [
      {
        type: "text" as const,
        text: longText(3000),
        cache_control: { type: "ephemeral" as const, ttl: "1h" as const },
      },
      { type: "text" as const, text: "Today is Monday." },
    ];
    const client = anthropic(ns);
    const ask = (content: string) =>
      client.messages.create({ model: MODEL, max_tokens: 16, system, messages: [{ role: "user", content }] });
    const first = await ask("one");
    const second = await ask("two");
    expect(first.usage.cache_creation_input_tokens).toBeGreaterThan(0);
    // The second request reads what the first wrote through the client's marker and Stoker's head (the tenant's
    // learned state may add a write of the last message, which the second one does not share).
    expect(second.usage.cache_read_input_tokens).toBeGreaterThanOrEqual(
      (first.usage.cache_creation_input_tokens ?? 0) - 8,
    );
    // Stoker may add breakpoints of its own, but never moves, drops or rewrites the client's.
    for (const req of await simRequests(ns)) {
      const sent = JSON.parse(req.body);
      expect(req.body).toContain(JSON.stringify(system[0]));
      expect(sent.system[0]).toEqual(system[0]);
      expect(sent.system[1].text).toBe(system[1]?.text);
    }
  });

  it("passes images through", async () => {
    const ns = namespace();
    const msg = await anthropic(ns).messages.create({
      model: MODEL,
      max_tokens: 16,
      messages: [
        {
          role: "user",
          content: [
            { type: "image", source: { type: "base64", media_type: "image/png", data: PNG } },
            { type: "text", text: "What is this?" },
          ],
        },
      ],
    });
    expect(msg.content.length).toBeGreaterThan(0);
    const sent = JSON.parse((await simRequests(ns))[0]?.body ?? "{}");
    expect(sent.messages[0].content[0].source.data).toBe(PNG);
  });

  it("passes count_tokens through", async () => {
    const ns = namespace();
    const count = await anthropic(ns).messages.countTokens({
      model: MODEL,
      messages: [{ role: "user", content: longText(100) }],
    });
    expect(count.input_tokens).toBeGreaterThan(0);
    expect((await simRequests(ns))[0]?.path).toBe("/anthropic/v1/messages/count_tokens");
  });
});

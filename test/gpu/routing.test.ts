import { describe, expect, it } from "vitest";
import { backendRequests, gpuClient, gpuPost, gpuSim, prose } from "../support/gpu.ts";
import { freshTenant } from "../support/tenants.ts";

const MODEL = "llama-3.1-8b";

describe("GPU routing: a conversation sticks to the backend that holds its prefix", () => {
  it("sends every turn to the same backend, which reads more of the prompt from its cache each turn", async () => {
    const tenant = freshTenant();
    const marker = crypto.randomUUID();
    const client = gpuClient("sticky", tenant.key);
    const messages: { role: "system" | "user" | "assistant"; content: string }[] = [
      { role: "system", content: `${marker} ${prose(800, "sys")}` },
    ];
    const backends: string[] = [];
    const cached: number[] = [];
    const plans: string[] = [];
    for (let turn = 0; turn < 3; turn++) {
      messages.push({ role: "user", content: `${prose(300, `turn${turn}`)}` });
      const { data, response } = await client.chat.completions
        .create({ model: MODEL, messages, max_tokens: 8 })
        .withResponse();
      backends.push(response.headers.get("x-stoker-backend") ?? "");
      plans.push(response.headers.get("x-stoker-plan") ?? "");
      cached.push(data.usage?.prompt_tokens_details?.cached_tokens ?? -1);
      expect(response.headers.get("x-stoker-cache")).toMatch(/^read=\d+ write=0 uncached=\d+$/);
      messages.push({ role: "assistant", content: data.choices[0]?.message.content ?? "" });
    }
    expect(new Set(backends).size).toBe(1);
    expect(plans[0]).toMatch(/^gpu backend=\d (least-loaded|prefix) match=0\/\d+/);
    expect(plans[1]).toMatch(/^gpu backend=\d prefix match=[1-9]\d*\/\d+/);
    expect(cached[0]).toBe(0);
    expect(cached[1]).toBeGreaterThan(0);
    expect(cached[2]).toBeGreaterThan(cached[1] as number);
    // Only the chosen backend saw the conversation.
    const urls = gpuSim().backends.slice(0, 3);
    const seen = await Promise.all(urls.map((u) => backendRequests(u, marker)));
    expect(seen.map((r) => r.length).sort()).toEqual([0, 0, 3]);
  });

  it("routes Completions the same way", async () => {
    const tenant = freshTenant();
    const marker = crypto.randomUUID();
    const prompt = `${marker} ${prose(900, "doc")}`;
    const first = await gpuPost("sticky", "completions", tenant.key, { model: MODEL, prompt, max_tokens: 4 });
    expect(first.status).toBe(200);
    const second = await gpuPost("sticky", "completions", tenant.key, {
      model: MODEL,
      prompt: `${prompt} and a follow-up question`,
      max_tokens: 4,
    });
    const body = (await second.json()) as {
      object: string;
      usage: { prompt_tokens_details: { cached_tokens: number } };
    };
    expect(body.object).toBe("text_completion");
    expect(second.headers.get("x-stoker-backend")).toBe(first.headers.get("x-stoker-backend"));
    expect(body.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(1000);
  });

  it("answers errors in OpenAI's shape: unknown pool, bad body, missing key", async () => {
    const tenant = freshTenant();
    const unknown = await gpuPost("nope", "chat/completions", tenant.key, { model: MODEL, messages: [] });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({
      error: { type: "invalid_request_error", code: "not_found" },
    });
    const bad = await gpuPost("sticky", "completions", tenant.key, { model: MODEL });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { param: "prompt", type: "invalid_request_error" } });
    const anonymous = await gpuPost("sticky", "completions", "sk-wrong", { model: MODEL, prompt: "x" });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { code: "invalid_api_key" } });
  });
});

describe("GPU streaming", () => {
  it("streams chunk by chunk without the usage chunk the client did not ask for, and accounts it", async () => {
    const tenant = freshTenant();
    const marker = crypto.randomUUID();
    const stream = await gpuClient("stream", tenant.key).chat.completions.create({
      model: MODEL,
      stream: true,
      max_tokens: 12,
      messages: [{ role: "user", content: `${marker} ${prose(400, "s")}` }],
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) {
      expect(c.choices.length).toBeGreaterThan(0);
      expect("usage" in c).toBe(false);
    }
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(text).toMatch(/^Reply from gpu\d/);
    const sent = await Promise.all(
      gpuSim()
        .backends.slice(0, 3)
        .map((u) => backendRequests(u, marker)),
    );
    const forwarded = JSON.parse(sent.flat()[0]?.body ?? "{}");
    expect(forwarded.stream_options).toEqual({ include_usage: true });
  });

  it("passes the usage chunk through when the client asked for it", async () => {
    const tenant = freshTenant();
    const stream = await gpuClient("stream", tenant.key).chat.completions.create({
      model: MODEL,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: prose(300, crypto.randomUUID()) }],
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(last?.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
  });

  it("streams Completions", async () => {
    const tenant = freshTenant();
    const res = await gpuPost("stream", "completions", tenant.key, {
      model: MODEL,
      stream: true,
      prompt: prose(200, crypto.randomUUID()),
    });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const text = await res.text();
    expect(text).toContain('"object":"text_completion"');
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    expect(text).not.toContain('"usage"');
  });
});

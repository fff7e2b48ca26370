import { FunctionCallingConfigMode } from "@google/genai";
import { describe, expect, it } from "vitest";
import { TenantSchema } from "../../src/analytics/schemas.ts";
import { costOfUsage } from "../../src/economics/cost.ts";
import { admin, adminTenant } from "../support/admin.ts";
import { expectFiguresMatchBill, upstreamFigures } from "../support/analytics.ts";
import {
  freshClient,
  gemini,
  longText,
  namespace,
  STOKER,
  simFault,
  simRequests,
  simStats,
  workerFetch,
} from "../support/clients.ts";
import { RAW_TENANT, TEST_TENANTS, UPSTREAM_KEYS } from "../support/tenants.ts";

const MODEL = "gemini-2.5-flash";
// A system instruction well above 2.5 Flash's 2,048-token minimum (about 5,500 tokens at 4 bytes per token).
const SYSTEM = longText(2500, "manual");

describe("Gemini through Stoker (@google/genai)", () => {
  it("answers generateContent with usageMetadata, sending the deploy's key upstream and never the tenant's", async () => {
    const ns = namespace();
    const res = await gemini(ns).models.generateContent({
      model: MODEL,
      contents: "Hello there",
    });
    expect(res.text).toContain("Simulated reply");
    expect(res.usageMetadata?.promptTokenCount).toBe(3);
    const [req] = await simRequests(ns);
    expect(req?.path).toBe(`/gemini/v1beta/models/${MODEL}:generateContent`);
    expect(req?.headers["x-goog-api-key"]).toBe(UPSTREAM_KEYS.gemini);
    expect(JSON.stringify(req)).not.toContain(TEST_TENANTS.alpha);
  });

  it("streams (alt=sse), multi-turn with an implicit cache hit; accounting equals the simulator's bill", async () => {
    const { ns, tenant, client: ai } = freshClient(gemini);
    const chat = ai.chats.create({ model: MODEL, config: { systemInstruction: SYSTEM } });
    const first = await chat.sendMessage({ message: "First question about the manual" });
    expect(first.usageMetadata?.cachedContentTokenCount).toBeUndefined();
    const stream = await chat.sendMessageStream({ message: "Second question" });
    let text = "";
    let last: { cachedContentTokenCount?: number; promptTokenCount?: number } | undefined;
    for await (const chunk of stream) {
      text += chunk.text ?? "";
      last = chunk.usageMetadata;
    }
    expect(text).toContain("Simulated reply for turn 2");
    // The second turn repeats the system instruction and the first turn: the implicit cache serves them.
    expect(last?.cachedContentTokenCount).toBeGreaterThanOrEqual(2500);
    const reqs = await simRequests(ns);
    expect(reqs[1]?.path).toBe(`/gemini/v1beta/models/${MODEL}:streamGenerateContent`);
    expect(reqs[1]?.query.alt).toBe("sse");
    const bill = (await simStats(ns)).gemini;
    expect(bill.requests).toBe(2);
    expect(bill.cache_read_input_tokens).toBe(last?.cachedContentTokenCount);

    // The tenant's analytics see the same tokens the simulator billed.
    const figures = await upstreamFigures(tenant.key, "gemini", 2);
    expect(figures.requests).toBe(2);
    expectFiguresMatchBill(figures, bill);
    const cost = figures.cost_usd;
    const expected = costOfUsage(MODEL, {
      inputTokens: bill.uncached_input_tokens + bill.cache_read_input_tokens,
      uncachedTokens: bill.uncached_input_tokens,
      cacheReadTokens: bill.cache_read_input_tokens,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 0,
      outputTokens: bill.output_tokens,
    });
    // Analytics round dollars to the micro-dollar.
    expect(Math.abs(cost - expected)).toBeLessThan(1e-6);
  });

  it("calls functions and sends the function response back", async () => {
    const ns = namespace();
    const ai = gemini(ns);
    const tools = [
      {
        functionDeclarations: [
          {
            name: "get_weather",
            description: "Weather for a city",
            parametersJsonSchema: { type: "object", properties: { city: { type: "string" } } },
          },
        ],
      },
    ];
    const res = await ai.models.generateContent({
      model: MODEL,
      contents: "Weather in Paris?",
      config: { tools, toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.ANY } } },
    });
    const call = res.functionCalls?.[0];
    expect(call?.name).toBe("get_weather");
    const follow = await ai.models.generateContent({
      model: MODEL,
      contents: [
        { role: "user", parts: [{ text: "Weather in Paris?" }] },
        { role: "model", parts: [{ functionCall: { name: "get_weather", args: {} } }] },
        { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { temp: 21 } } }] },
      ],
      config: { tools },
    });
    expect(follow.text).toContain("Simulated reply");
    const sent = JSON.parse((await simRequests(ns))[1]?.body ?? "{}");
    expect(sent.contents[2].parts[0].functionResponse.response).toEqual({ temp: 21 });
  });

  it("canonicalizes tools: a reordered tool list still hits the implicit cache (and misses with the rules off)", async () => {
    const decl = (name: string) => ({
      name,
      description: `${name}: ${longText(60, name)}`,
      parametersJsonSchema: { type: "object", properties: { q: { type: "string" } } },
    });
    const ask = async (key: string, ns: string, order: string[], question: string) =>
      gemini(ns, { apiKey: key }).models.generateContent({
        model: MODEL,
        contents: question,
        config: { systemInstruction: SYSTEM, tools: [{ functionDeclarations: order.map(decl) }] },
      });
    const hits: number[] = [];
    for (const key of [TEST_TENANTS.beta, RAW_TENANT.key]) {
      const ns = namespace();
      await ask(key, ns, ["search", "fetch", "lookup"], "First");
      const second = await ask(key, ns, ["lookup", "search", "fetch"], "Second");
      hits.push(second.usageMetadata?.cachedContentTokenCount ?? 0);
    }
    const [canonical, raw] = hits as [number, number];
    // Rules off: only the system instruction is shared. Rules on: the tools too.
    expect(raw).toBe(Math.ceil(SYSTEM.length / 4));
    expect(canonical).toBeGreaterThan(raw + 3 * 60);
  });

  it("passes countTokens through", async () => {
    const ns = namespace();
    const res = await gemini(ns).models.countTokens({ model: MODEL, contents: "abcdefgh" });
    expect(res.totalTokens).toBe(2);
    expect((await simStats(ns)).gemini.requests).toBe(0);
  });

  it("accepts the tenant key as ?key= and Bearer, and refuses an unknown key in Google's error shape", async () => {
    const ns = namespace();
    const body = JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] });
    const path = `${STOKER}/gemini/v1beta/models/${MODEL}:generateContent`;
    const viaQuery = await workerFetch(`${path}?key=${TEST_TENANTS.alpha}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-sim-namespace": ns },
      body,
    });
    expect(viaQuery.status).toBe(200);
    const viaBearer = await workerFetch(path, {
      method: "POST",
      headers: {
        authorization: `Bearer ${TEST_TENANTS.alpha}`,
        "content-type": "application/json",
        "x-sim-namespace": ns,
      },
      body,
    });
    expect(viaBearer.status).toBe(200);
    const reqs = await simRequests(ns);
    expect(reqs[0]?.query.key).toBeUndefined();
    expect(JSON.stringify(reqs)).not.toContain(TEST_TENANTS.alpha);
    for (const r of reqs) expect(r.headers["x-goog-api-key"]).toBe(UPSTREAM_KEYS.gemini);

    const bad = await gemini(ns, { apiKey: "not-a-tenant" })
      .models.generateContent({ model: MODEL, contents: "hi" })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(Error);
    expect((bad as { status?: number }).status).toBe(401);
    const raw = await workerFetch(path, { method: "POST", headers: { "x-goog-api-key": "nope" }, body });
    const json = (await raw.json()) as { error: { code: number; status: string; message: string } };
    expect(json.error.code).toBe(401);
    expect(json.error.status).toBe("UNAUTHENTICATED");
  });

  it("pass-through: the client's own Gemini key goes upstream as it came", async () => {
    const ns = namespace();
    await gemini(ns, {
      apiKey: "AIza-client-own",
      headers: { "x-stoker-key": TEST_TENANTS.alpha },
    }).models.generateContent({
      model: MODEL,
      contents: "hi",
    });
    const [req] = await simRequests(ns);
    expect(req?.headers["x-goog-api-key"]).toBe("AIza-client-own");
    expect(req?.headers["x-stoker-key"]).toBeUndefined();
  });

  it("managed with the tenant's own Gemini key (admin API): that key goes upstream, the deploy's after it is cleared", async () => {
    const t = await adminTenant();
    const own = "AIza-tenant-own-gemini-key-0123";
    const set = await admin("PUT", `/v1/admin/tenants/${t.id}/provider-keys`, { gemini: own });
    expect(set.status).toBe(200);
    expect(TenantSchema.parse(set.body).provider_key_state.gemini).toBe("set");
    expect(JSON.stringify(set.body)).not.toContain(own);
    const ns = namespace();
    await gemini(ns, { apiKey: t.key }).models.generateContent({ model: MODEL, contents: "hi" });
    expect((await simRequests(ns))[0]?.headers["x-goog-api-key"]).toBe(own);
    await admin("PUT", `/v1/admin/tenants/${t.id}/provider-keys`, { gemini: null });
    const ns2 = namespace();
    await gemini(ns2, { apiKey: t.key }).models.generateContent({ model: MODEL, contents: "hi" });
    expect((await simRequests(ns2))[0]?.headers["x-goog-api-key"]).toBe(UPSTREAM_KEYS.gemini);
  });

  it("passes an upstream 429 through in Google's shape, and ends a cut stream with a Google-shaped error event", async () => {
    const ns = namespace();
    await simFault(ns, { provider: "gemini", status: 429, count: 1 });
    const limited = await gemini(ns)
      .models.generateContent({ model: MODEL, contents: "hi" })
      .catch((e: unknown) => e);
    expect((limited as { status?: number }).status).toBe(429);
    await simFault(ns, { provider: "gemini", truncate_after_events: 1, count: 1 });
    const res = await workerFetch(`${STOKER}/gemini/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`, {
      method: "POST",
      headers: {
        "x-goog-api-key": TEST_TENANTS.alpha,
        "content-type": "application/json",
        "x-sim-namespace": ns,
      },
      body: JSON.stringify({
        contents: [{ role: "user", parts: [{ text: "Tell me a long story please" }] }],
      }),
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    const events = text.split(/\r?\n\r?\n/).filter((e) => e.startsWith("data: "));
    expect(events.length).toBe(2);
    const last = JSON.parse((events.at(-1) as string).slice("data: ".length)) as {
      error: { code: number; status: string; message: string };
    };
    expect(last.error).toEqual({
      code: 500,
      status: "INTERNAL",
      message: "The upstream stream ended early.",
    });
  });

  it("refuses a body without contents in Google's shape, without calling upstream", async () => {
    const ns = namespace();
    const res = await workerFetch(`${STOKER}/gemini/v1beta/models/${MODEL}:generateContent`, {
      method: "POST",
      headers: {
        "x-goog-api-key": TEST_TENANTS.alpha,
        "content-type": "application/json",
        "x-sim-namespace": ns,
      },
      body: JSON.stringify({}),
    });
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: { status: string } };
    expect(json.error.status).toBe("INVALID_ARGUMENT");
    expect(await simRequests(ns)).toEqual([]);
  });
});

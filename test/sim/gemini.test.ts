import { describe, expect, it } from "vitest";
import { geminiMinimum } from "../../sim/gemini/models.ts";
import { freshNs, type Json, simulator, sseEvents, text } from "../support/sim.ts";

// Rules and sources: sim/README.md "Gemini caching".
const FLASH = "gemini-2.5-flash";
const gen = (model: string, stream = false) =>
  `/gemini/v1beta/models/${model}:${stream ? "streamGenerateContent?alt=sse" : "generateContent"}`;

function body(systemTokens: number, question = "What does it say?", extra: Json = {}): Json {
  return {
    systemInstruction: { parts: [{ text: text(systemTokens, "doc") }] },
    contents: [{ role: "user", parts: [{ text: question }] }],
    ...extra,
  };
}

describe("Gemini simulator: implicit caching", () => {
  it("caches nothing below the model minimum (2,048 on 2.5 Flash), a prefix above it on the second request", async () => {
    const sim = simulator();
    const ns = freshNs();
    const h = { "x-sim-namespace": ns };
    expect(geminiMinimum(FLASH)).toBe(2048);
    const small = body(2000);
    for (let i = 0; i < 2; i++) {
      const { json } = await sim.postJson(gen(FLASH), small, h);
      expect(json.usageMetadata.cachedContentTokenCount).toBeUndefined();
    }
    const big = body(3000);
    const first = await sim.postJson(gen(FLASH), big, h);
    expect(first.status).toBe(200);
    expect(first.json.usageMetadata.cachedContentTokenCount).toBeUndefined();
    const prompt = first.json.usageMetadata.promptTokenCount;
    expect(prompt).toBe(3000 + 5); // "What does it say?" is 17 bytes
    const second = await sim.postJson(gen(FLASH), body(3000, "Another question here"), h);
    // The shared prefix is the system instruction: 3,000 tokens at its block boundary.
    expect(second.json.usageMetadata.cachedContentTokenCount).toBe(3000);
    expect(second.json.usageMetadata.promptTokenCount).toBe(3000 + 6);
    const stats = await sim.getJson(`/__sim/stats?ns=${ns}`);
    expect(stats.gemini.cache_read_input_tokens).toBe(3000);
    expect(stats.gemini.uncached_input_tokens).toBe(2 * (2000 + 5) + 3005 + 6);
  });

  it("forgets an idle prefix after the implicit TTL", async () => {
    const sim = simulator({ geminiImplicitTtlSeconds: 60 });
    const ns = freshNs();
    const h = { "x-sim-namespace": ns };
    await sim.postJson(gen(FLASH), body(3000), h);
    await sim.advance(ns, 61);
    const { json } = await sim.postJson(gen(FLASH), body(3000), h);
    expect(json.usageMetadata.cachedContentTokenCount).toBeUndefined();
  });

  it("uses 4,096 for 2.5 Pro and for unknown models (the larger documented value)", () => {
    expect(geminiMinimum("gemini-2.5-pro")).toBe(4096);
    expect(geminiMinimum("models/gemini-2.5-flash-001")).toBe(2048);
    expect(geminiMinimum("gemini-9-ultra")).toBe(4096);
  });

  it("streams SSE chunks with usageMetadata; the candidate count and finishReason on the last", async () => {
    const sim = simulator();
    const ns = freshNs();
    const res = await sim.post(gen(FLASH, true), body(100), { "x-sim-namespace": ns });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const events = await sseEvents(res);
    expect(events.length).toBeGreaterThan(1);
    const chunks = events.map((e) => JSON.parse(e.data));
    for (const c of chunks) expect(c.usageMetadata.promptTokenCount).toBe(105);
    const last = chunks.at(-1);
    expect(last.candidates[0].finishReason).toBe("STOP");
    const textOut = chunks.map((c) => c.candidates[0].content.parts[0].text).join("");
    expect(last.usageMetadata.candidatesTokenCount).toBe(Math.ceil(textOut.length / 4));
    expect(chunks[0].usageMetadata.candidatesTokenCount).toBeUndefined();
  });

  it("answers a forced function call (mode ANY) and counts tokens without billing", async () => {
    const sim = simulator();
    const ns = freshNs();
    const h = { "x-sim-namespace": ns };
    const tools = [
      { functionDeclarations: [{ name: "lookup", description: "Look up", parameters: { type: "OBJECT" } }] },
    ];
    const { json } = await sim.postJson(
      gen(FLASH),
      body(10, "q", { tools, toolConfig: { functionCallingConfig: { mode: "ANY" } } }),
      h,
    );
    expect(json.candidates[0].content.parts[0].functionCall).toEqual({ name: "lookup", args: {} });
    const count = await sim.postJson(
      `/gemini/v1beta/models/${FLASH}:countTokens`,
      { contents: body(10).contents },
      h,
    );
    expect(count.json.totalTokens).toBe(1 + 5 - 1); // "What does it say?" = 17 bytes = 5 tokens
    const stats = await sim.getJson(`/__sim/stats?ns=${ns}`);
    expect(stats.gemini.requests).toBe(1);
  });

  it("answers errors in Google's shape", async () => {
    const sim = simulator();
    const ns = freshNs();
    const bad = await sim.postJson(
      gen(FLASH),
      { contents: [{ role: "user", parts: [] }] },
      { "x-sim-namespace": ns },
    );
    expect(bad.status).toBe(400);
    expect(bad.json.error.status).toBe("INVALID_ARGUMENT");
    expect(bad.json.error.code).toBe(400);
    expect(typeof bad.json.error.message).toBe("string");
    const missing = await sim.postJson("/gemini/v1beta/models/x:nothing", {}, { "x-sim-namespace": ns });
    expect(missing.status).toBe(404);
    expect(missing.json.error.status).toBe("NOT_FOUND");
  });

  it("takes the namespace from x-goog-api-key or ?key=", async () => {
    const sim = simulator();
    const key = freshNs();
    await sim.postJson(gen(FLASH), body(3000), { "x-goog-api-key": key });
    const viaQuery = await sim.postJson(`${gen(FLASH)}?key=${key}`, body(3000, "Other"), {});
    expect(viaQuery.json.usageMetadata.cachedContentTokenCount).toBe(3000);
  });
});

describe("Gemini simulator: explicit caches (cachedContents)", () => {
  const T0 = Date.UTC(2026, 11, 2);
  const create = (sim: ReturnType<typeof simulator>, ns: string, tokens: number, extra: Json = {}) =>
    sim.postJson(
      "/gemini/v1beta/cachedContents",
      {
        model: `models/${FLASH}`,
        systemInstruction: { parts: [{ text: text(tokens, "doc") }] },
        ttl: "600s",
        ...extra,
      },
      { "x-sim-namespace": ns },
    );

  it("refuses a cache below the minimum", async () => {
    const sim = simulator();
    const res = await create(sim, freshNs(), 1000);
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe(
      "Cached content is too small. total_token_count=1000, min_total_token_count=2048",
    );
  });

  it("creates, serves whole, bills storage per token-hour, extends by PATCH and deletes", async () => {
    const sim = simulator({ now: () => T0 });
    const ns = freshNs();
    const h = { "x-sim-namespace": ns };
    const made = await create(sim, ns, 3000);
    expect(made.status).toBe(200);
    expect(made.json.name).toMatch(/^cachedContents\/[a-z0-9]+$/);
    expect(made.json.usageMetadata.totalTokenCount).toBe(3000);
    const name = made.json.name as string;
    const use = await sim.postJson(
      gen(FLASH),
      { cachedContent: name, contents: [{ role: "user", parts: [{ text: "abcd" }] }] },
      h,
    );
    expect(use.json.usageMetadata).toMatchObject({ promptTokenCount: 3001, cachedContentTokenCount: 3000 });
    await sim.advance(ns, 300);
    let stats = await sim.getJson(`/__sim/stats?ns=${ns}`);
    expect(stats.gemini.storage_token_hours).toBeCloseTo((3000 * 300) / 3600, 6);
    expect(stats.gemini.cache_write_1h_input_tokens).toBe(3000);
    const patched = await sim.app.request(`/gemini/v1beta/${name}?updateMask=ttl`, {
      method: "PATCH",
      headers: h,
      body: JSON.stringify({ ttl: "3600s" }),
    });
    const pj = (await patched.json()) as Json;
    expect(Date.parse(pj.expireTime) - Date.parse(pj.updateTime)).toBe(3_600_000);
    await sim.advance(ns, 1000); // past the original 600 s: the PATCH kept it alive
    const again = await sim.postJson(
      gen(FLASH),
      { cachedContent: name, contents: [{ role: "user", parts: [{ text: "abcd" }] }] },
      h,
    );
    expect(again.status).toBe(200);
    const del = await sim.app.request(`/gemini/v1beta/${name}`, { method: "DELETE", headers: h });
    expect(del.status).toBe(200);
    await sim.advance(ns, 3600);
    stats = await sim.getJson(`/__sim/stats?ns=${ns}`);
    expect(stats.gemini.storage_token_hours).toBeCloseTo((3000 * 1300) / 3600, 6);
    const gone = await sim.postJson(
      gen(FLASH),
      { cachedContent: name, contents: [{ parts: [{ text: "x" }] }] },
      h,
    );
    expect(gone.status).toBe(403);
    expect(gone.json.error.status).toBe("PERMISSION_DENIED");
  });

  it("stops billing storage at expiry", async () => {
    const sim = simulator({ now: () => T0 });
    const ns = freshNs();
    await create(sim, ns, 3600);
    await sim.advance(ns, 7200);
    const stats = await sim.getJson(`/__sim/stats?ns=${ns}`);
    expect(stats.gemini.storage_token_hours).toBeCloseTo(3600 * (600 / 3600), 6);
  });

  it("refuses a request that repeats what its cache holds (system instruction, tools, tool config) or names another model", async () => {
    const sim = simulator();
    const ns = freshNs();
    const h = { "x-sim-namespace": ns };
    const { json } = await create(sim, ns, 3000);
    const contents = [{ role: "user", parts: [{ text: "q" }] }];
    for (const extra of [
      { systemInstruction: { parts: [{ text: "again" }] } },
      { tools: [{ functionDeclarations: [{ name: "f" }] }] },
      { toolConfig: { functionCallingConfig: { mode: "AUTO" } } },
    ]) {
      const res = await sim.postJson(gen(FLASH), { cachedContent: json.name, contents, ...extra }, h);
      expect(res.status).toBe(400);
      expect(res.json.error.message).toContain(
        "CachedContent can not be used with GenerateContent request setting",
      );
    }
    const other = await sim.postJson(gen("gemini-2.5-pro"), { cachedContent: json.name, contents }, h);
    expect(other.status).toBe(400);
    expect(other.json.error.message).toContain("has to be the same");
  });
});

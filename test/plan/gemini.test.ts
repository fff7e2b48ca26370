import { describe, expect, it } from "vitest";
import { analyzeGemini } from "../../src/canonicalize/gemini.ts";
import { DEFAULT_RULES } from "../../src/canonicalize/index.ts";
import { cacheBoundaries, cacheCreateBody, matchesCache, rewriteForCache } from "../../src/plan/gemini.ts";
import { renderGemini } from "../../src/upstream/body/render.ts";
import { freshNs, type Json, simulator, text } from "../support/sim.ts";

const MODEL = "gemini-2.5-flash";
const analyze = (body: Json) =>
  analyzeGemini({ raw: JSON.stringify(body), body, salt: "s", rules: DEFAULT_RULES, modelId: MODEL });

describe("Gemini explicit caches: byte-exact rewrite", () => {
  const doc = text(3000, "doc");
  const tools = [
    { functionDeclarations: [{ name: "cite", description: "Cite a page", parameters: { type: "OBJECT" } }] },
  ];
  const first = {
    systemInstruction: { parts: [{ text: "You answer from the document." }] },
    tools,
    contents: [
      { role: "user", parts: [{ text: doc }] },
      { role: "model", parts: [{ text: "I have read it." }] },
      { role: "user", parts: [{ text: "Question one?" }] },
    ],
  };
  const second = {
    ...first,
    contents: [...first.contents.slice(0, 2), { role: "user", parts: [{ text: "Question two, longer?" }] }],
  };

  it("offers the head and each whole content but the last as boundaries", () => {
    const a = analyze(first);
    expect(cacheBoundaries(a).map((b) => b.contents)).toEqual([0, 1, 2]);
    expect(cacheBoundaries(analyze({ ...first, cachedContent: "cachedContents/x" }))).toEqual([]);
  });

  it("a cache created from one request serves the next with the same prompt, billed as cached", async () => {
    const sim = simulator();
    const ns = freshNs();
    const h = { "x-sim-namespace": ns };
    const a1 = analyze(first);
    const boundary = cacheBoundaries(a1).find((b) => b.contents === 2);
    if (!boundary) throw new Error("no boundary");
    const created = await sim.postJson(
      "/gemini/v1beta/cachedContents",
      cacheCreateBody(renderGemini(a1), MODEL, boundary, 600),
      h,
    );
    expect(created.status).toBe(200);
    const ref = {
      name: created.json.name,
      model: MODEL,
      hash: boundary.hash,
      contents: 2,
      tokens: created.json.usageMetadata.totalTokenCount,
    };

    const a2 = analyze(second);
    expect(matchesCache(a2, ref)).toBe(true);
    const rewritten = rewriteForCache(renderGemini(a2), ref);
    const viaCache = await sim.postJson(`/gemini/v1beta/models/${MODEL}:generateContent`, rewritten, h);
    expect(viaCache.status).toBe(200);
    // The same request without a cache, in another namespace: the model saw exactly the same prompt.
    const plain = await sim.postJson(`/gemini/v1beta/models/${MODEL}:generateContent`, renderGemini(a2), {
      "x-sim-namespace": freshNs(),
    });
    expect(viaCache.json.usageMetadata.promptTokenCount).toBe(plain.json.usageMetadata.promptTokenCount);
    expect(viaCache.json.usageMetadata.cachedContentTokenCount).toBe(ref.tokens);
    expect(viaCache.json.candidates[0].content.parts[0].text).toBe(
      plain.json.candidates[0].content.parts[0].text,
    );
  });

  it("never matches a request whose prefix differs by one byte, another model, or another boundary", () => {
    const a1 = analyze(first);
    const b = cacheBoundaries(a1).find((x) => x.contents === 2);
    if (!b) throw new Error("no boundary");
    const ref = { name: "cachedContents/x", model: MODEL, hash: b.hash, contents: 2, tokens: b.tokens };
    const changed = {
      ...second,
      contents: [{ role: "user", parts: [{ text: `${doc}.` }] }, ...second.contents.slice(1)],
    };
    expect(matchesCache(analyze(changed), ref)).toBe(false);
    const otherTools = { ...second, tools: [{ functionDeclarations: [{ name: "cite2" }] }] };
    expect(matchesCache(analyze(otherTools), ref)).toBe(false);
    const pro = analyzeGemini({
      raw: JSON.stringify(second),
      body: second,
      salt: "s",
      rules: DEFAULT_RULES,
      modelId: "gemini-2.5-pro",
    });
    expect(matchesCache(pro, ref)).toBe(false);
    expect(matchesCache(analyze(second), { ...ref, contents: 1 })).toBe(false);
    // Another tenant (another salt) never matches a cache made for this one.
    const other = analyzeGemini({
      raw: JSON.stringify(second),
      body: second,
      salt: "t",
      rules: DEFAULT_RULES,
      modelId: MODEL,
    });
    expect(matchesCache(other, ref)).toBe(false);
  });
});

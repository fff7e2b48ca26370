import { describe, expect, it } from "vitest";
import { analyzeGemini } from "../../src/canonicalize/gemini.ts";
import { DEFAULT_RULES, NO_RULES } from "../../src/canonicalize/index.ts";
import { renderGemini } from "../../src/upstream/body/render.ts";

type Json = Record<string, unknown>;
const MODEL = "gemini-2.5-flash";
const analyze = (body: Json, raw = JSON.stringify(body), rules = DEFAULT_RULES) =>
  analyzeGemini({ raw, body, salt: "s", rules, modelId: MODEL });

const decl = (name: string, props: Json) => ({
  name,
  description: `Tool ${name}`,
  parameters: { type: "OBJECT", properties: props },
});

function body(tools: Json[], system: string, contents: Json[]): Json {
  return {
    systemInstruction: { parts: [{ text: system }] },
    tools: [{ functionDeclarations: tools }],
    contents,
    generationConfig: { temperature: 0.3 },
  };
}

const turn1 = [{ role: "user", parts: [{ text: "What is the weather?" }] }];
const turn2 = [
  ...turn1,
  { role: "model", parts: [{ functionCall: { name: "weather", args: { unit: "C", city: "Paris" } } }] },
  { role: "user", parts: [{ functionResponse: { name: "weather", response: { temp: 21 } } }] },
];

describe("Gemini canonicalization", () => {
  it("gives equal chains to requests that differ only in tool order, schema key order and CRLF in the system instruction", () => {
    const a = analyze(
      body(
        [decl("weather", { city: { type: "STRING" }, unit: { type: "STRING" } }), decl("alpha", {})],
        "Line one\nLine two",
        turn1,
      ),
    );
    const b = analyze(
      body(
        [decl("alpha", {}), decl("weather", { unit: { type: "STRING" }, city: { type: "STRING" } })],
        "Line one\r\nLine two",
        turn1,
      ),
    );
    expect(b.family).toBe(a.family);
    expect(b.segments.at(-1)?.hash).toBe(a.segments.at(-1)?.hash);
    expect(a.canonical.applied.sort()).toEqual(["schemaKeys", "toolOrder"]);
    expect(b.canonical.applied.sort()).toEqual(["lineEndings", "schemaKeys"]);
    // The forwarded bytes are the canonical request: both clients now send the same prompt.
    const outA = JSON.parse(renderGemini(a)) as Json;
    const outB = JSON.parse(renderGemini(b)) as Json;
    expect(JSON.stringify(outB.tools)).toBe(JSON.stringify(outA.tools));
    expect(JSON.stringify(outB.systemInstruction)).toBe(JSON.stringify(outA.systemInstruction));
    expect(outB.generationConfig).toEqual({ temperature: 0.3 });
  });

  it("leaves the bytes alone when every rule is off, and sampling parameters out of the chain", () => {
    const raw = JSON.stringify(body([decl("b", {}), decl("a", {})], "x\r\ny", turn1));
    const a = analyze(JSON.parse(raw), raw, NO_RULES);
    expect(renderGemini(a)).toBe(raw);
    const other = { ...(JSON.parse(raw) as Json), generationConfig: { temperature: 1 } };
    expect(analyze(other, JSON.stringify(other), NO_RULES).segments.at(-1)?.hash).toBe(
      a.segments.at(-1)?.hash,
    );
  });

  it("sorts function-call arguments, keeps one family and conversation across turns, and hashes the explicit cache name into h0", () => {
    const first = analyze(body([decl("weather", {})], "sys", turn1));
    const second = analyze(body([decl("weather", {})], "sys", turn2));
    expect(second.family).toBe(first.family);
    expect(second.conversation).toBe(first.conversation);
    expect(second.continues).toBe(true);
    expect(second.canonical.applied).toContain("argumentKeys");
    const out = JSON.parse(renderGemini(second)) as { contents: { parts: Json[] }[] };
    expect(JSON.stringify(out.contents[1]?.parts[0])).toBe(
      '{"functionCall":{"name":"weather","args":{"city":"Paris","unit":"C"}}}',
    );
    // The shared prefix: the first turn's end is a hashed position of the second request.
    const firstEnd = first.segments.at(-1)?.hash;
    expect(second.segments.some((s) => s.hash === firstEnd)).toBe(true);
    const cached = analyze({ cachedContent: "cachedContents/abc", contents: turn1 });
    expect(cached.h0).not.toBe(analyze({ contents: turn1 }).h0);
  });

  it("changes the chain when a part, a role, a tool or the model changes", () => {
    const base = analyze(body([decl("weather", {})], "sys", turn1));
    const end = (a: ReturnType<typeof analyze>) => a.segments.at(-1)?.hash;
    expect(
      end(analyze(body([decl("weather", {})], "sys", [{ role: "user", parts: [{ text: "Other" }] }]))),
    ).not.toBe(end(base));
    expect(
      end(
        analyze(
          body([decl("weather", {})], "sys", [{ role: "model", parts: [{ text: "What is the weather?" }] }]),
        ),
      ),
    ).not.toBe(end(base));
    expect(analyze(body([decl("other", {})], "sys", turn1)).family).not.toBe(base.family);
    const b = body([decl("weather", {})], "sys", turn1);
    expect(
      analyzeGemini({
        raw: JSON.stringify(b),
        body: b,
        salt: "s",
        rules: DEFAULT_RULES,
        modelId: "gemini-2.5-pro",
      }).h0,
    ).not.toBe(base.h0);
  });
});

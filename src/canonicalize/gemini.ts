import { modelInfo } from "../economics/models.ts";
import type { Analysis, AnalyzeInput } from "../prefix/types.ts";
import { closeHead, finishAnalysis, headText, startAnalysis } from "./analysis.ts";
import { type FeedOptions, feedTextBlock, feedValue } from "./feed.ts";
import { canonicalCopy, hasCrlf, isObj, type Json, keysSorted } from "./json.ts";
import { blockKey, type MessageShape } from "./shared.ts";
import { hasVolatileSpan } from "./volatile.ts";

// Schema fields of a function declaration (OpenAPI subset or JSON Schema), sorted under schemaKeys.
const SCHEMA_FIELDS = ["parameters", "parametersJsonSchema", "response", "responseJsonSchema"];

function partsOf(content: unknown): Json[] {
  return isObj(content) && Array.isArray(content.parts) ? content.parts.filter(isObj) : [];
}

/** A function declaration under the schemaKeys and lineEndings rules (a copy only where something changes). */
function canonicalDeclaration(d: Json, sort: boolean, toLf: boolean): Json {
  let out = d;
  for (const f of SCHEMA_FIELDS) {
    const v = d[f];
    if (v === undefined || ((!sort || keysSorted(v)) && (!toLf || !hasCrlf(v)))) continue;
    out = { ...out, [f]: canonicalCopy(v, sort, toLf) };
  }
  if (toLf && typeof d.description === "string" && d.description.includes("\r\n"))
    out = { ...out, description: canonicalCopy(d.description, false, true) };
  return out;
}

/**
 * Canonicalizes, segments and hashes a Gemini generateContent request: system instruction parts, then each
 * function declaration (and other tool), the tool config, then every part of every content. The model comes
 * from the URL (`input.modelId`). Explicit-cache requests (`cachedContent`) hash the cache's name into h0.
 */
export function analyzeGemini(input: AnalyzeInput): Analysis {
  const { body, rules } = input;
  const model = input.modelId ?? "";
  const family = (input.model ?? modelInfo(model, undefined, "gemini")).tokenizer;
  const contents = Array.isArray(body.contents) ? body.contents.filter(isObj) : [];
  const shapes: MessageShape[] = contents.map((c) => ({
    // digestPlan looks for the previous assistant turn by that name.
    role: c.role === "model" ? "assistant" : typeof c.role === "string" ? c.role : "user",
    lastCacheable: partsOf(c).length - 1,
    marked: [],
  }));
  const params = JSON.stringify({ cachedContent: body.cachedContent ?? null });
  const s = startAnalysis(input, "gemini", model, params, shapes);
  const { writer, segs, applied, edits } = s;
  const structural: FeedOptions = { sort: true, lf: false, family };

  // System instruction: text parts under lineEndings; other parts as they are.
  const system = partsOf(body.systemInstruction);
  system.forEach((part, k) => {
    if (typeof part.text === "string") {
      const text = headText(
        s,
        part.text,
        ["systemInstruction", "parts", k, "text"],
        rules.lineEndings,
        false,
      );
      const tokens = feedTextBlock(writer, text, "text", family);
      segs.add("system", { area: "system", index: k }, "text", tokens, true, k === system.length - 1, {
        volatile: hasVolatileSpan(text),
      });
    } else {
      const tokens = feedValue(writer, part, structural);
      segs.add("system", { area: "system", index: k }, "part", tokens, true, k === system.length - 1);
    }
  });

  // Tools: each Tool object's function declarations are a set (ordered by name under toolOrder).
  const tools = Array.isArray(body.tools) ? body.tools.filter(isObj) : [];
  let toolIndex = 0;
  tools.forEach((tool, i) => {
    const decls = Array.isArray(tool.functionDeclarations) ? tool.functionDeclarations.filter(isObj) : [];
    let order = decls.map((_, k) => k);
    if (rules.toolOrder && decls.length > 1) {
      const name = (k: number) => String((decls[k] as Json).name ?? "");
      const sorted = [...order].sort((a, b) => (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : a - b));
      if (sorted.some((v, k) => v !== k)) {
        order = sorted;
        applied.add("toolOrder");
      }
    }
    const canonical = order.map((k) =>
      canonicalDeclaration(decls[k] as Json, rules.schemaKeys, rules.lineEndings),
    );
    const changed =
      canonical.some((d, k) => d !== decls[order[k] as number]) || order.some((v, k) => v !== k);
    if (changed) {
      if (canonical.some((d, k) => d !== decls[order[k] as number])) {
        if (rules.schemaKeys && decls.some((d) => SCHEMA_FIELDS.some((f) => !keysSorted(d[f]))))
          applied.add("schemaKeys");
        if (rules.lineEndings && decls.some(hasCrlf)) applied.add("lineEndings");
      }
      edits.push({ path: ["tools", i, "functionDeclarations"], value: canonical });
    }
    for (const d of canonical) {
      writer.tag("F");
      const tokens = feedValue(writer, d, structural);
      segs.add("tool", { area: "tools", index: toolIndex++ }, "tool", tokens, true, false, {
        volatile: hasVolatileSpan(typeof d.description === "string" ? d.description : ""),
      });
    }
    const rest = Object.fromEntries(Object.entries(tool).filter(([k]) => k !== "functionDeclarations"));
    if (Object.keys(rest).length > 0) {
      writer.tag("T");
      const tokens = feedValue(writer, rest, structural);
      segs.add("tool", { area: "tools", index: toolIndex++ }, "tool", tokens, true, false);
    }
  });
  if (body.toolConfig !== undefined && body.toolConfig !== null) {
    writer.tag("C");
    const tokens = feedValue(writer, body.toolConfig, structural);
    segs.add("tool", { area: "tools", index: toolIndex++ }, "tool_config", tokens, false, false);
  }
  // The head's end gets a digest (the family hash) whatever it ends with.
  const lastHead = segs.list.at(-1);
  if (lastHead && lastHead.hash === undefined) lastHead.hash = writer.digest();
  const head = closeHead(s);

  const payload: FeedOptions = { sort: rules.argumentKeys, lf: false, family };
  let conversation = head.family;
  contents.forEach((content, i) => {
    const role = typeof content.role === "string" ? content.role : "user";
    writer.tag("M");
    writer.str(role);
    const parts = partsOf(content);
    parts.forEach((part, j) => {
      let tokens: number;
      let type = "part";
      if (typeof part.text === "string" && Object.keys(part).length === 1) {
        tokens = feedTextBlock(writer, part.text, "text", family) + (j === 0 ? 3 : 0);
        type = "text";
      } else if (isObj(part.functionCall)) {
        type = "function_call";
        const call = part.functionCall;
        if (rules.argumentKeys && call.args !== undefined && !keysSorted(call.args)) {
          applied.add("argumentKeys");
          edits.push({
            path: ["contents", i, "parts", j, "functionCall", "args"],
            value: canonicalCopy(call.args, true, false),
          });
        }
        tokens = 1;
        writer.tag("{");
        for (const k of Object.keys(part).sort()) {
          writer.str(k);
          tokens += 2 + feedValue(writer, part[k], k === "functionCall" ? payload : structural);
        }
        writer.tag("}");
      } else {
        type = isObj(part.functionResponse) ? "function_response" : isObj(part.inlineData) ? "media" : "part";
        tokens = feedValue(writer, part, structural) + (j === 0 ? 3 : 0);
      }
      const at = segs.add(
        "message",
        { area: "messages", index: i, block: j },
        type,
        tokens,
        true,
        // Every content's end is digested: an explicit cache ends there (plan/gemini.ts).
        s.plan.has(i, j) || j === parts.length - 1,
        { role },
      );
      s.segmentOf.set(blockKey(i, j), at);
    });
    if (i === 0) conversation = writer.digest();
  });
  const clientCache = typeof body.cachedContent === "string" ? body.cachedContent : null;
  return { ...finishAnalysis(s, head, conversation, null), gemini: { clientCache } };
}

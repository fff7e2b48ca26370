// A later turn's render scans only what its last turn's text did not have (upstream/body/scan.ts ScanHint):
// the same spans, entries and body as a scan of the whole text.
import { describe, expect, it } from "vitest";
import { mulberry32 } from "../../bench/economics/synthetic.ts";
import type { CanonicalEdit } from "../../src/prefix/types.ts";
import { type Marker, renderBody } from "../../src/upstream/body/apply.ts";
import { arrayItems, objectEntries, PathSpans, type ScanHint, skipWs } from "../../src/upstream/body/scan.ts";

type Json = Record<string, unknown>;
type Path = (string | number)[];

/** A request's text with `messages` between other fields, as clients order them. */
function text(messages: Json[], pretty: boolean): string {
  const body = {
    model: "claude-sonnet-4-5",
    tools: [{ name: "run", input_schema: { b: 1, a: 2 } }],
    messages,
    system: "Be brief.",
  };
  return JSON.stringify(body, null, pretty ? 1 : undefined);
}

/** Where item `m - 1` of `messages` ends in `raw`. */
function itemEnd(raw: string, m: number): number {
  const root = objectEntries(raw, { start: skipWs(raw, 0), end: raw.length });
  const span = root.find((e) => e.key === "messages") as { start: number; end: number };
  return (arrayItems(raw, span)[m - 1] as { end: number }).end;
}

describe("a scan that skips what an earlier scan of the same text found", () => {
  it("finds the same spans and renders the same body, turn after turn", () => {
    const r = mulberry32(17);
    for (const pretty of [false, true]) {
      const messages: Json[] = [{ role: "user", content: [{ type: "text", text: "Start." }] }];
      let prev: { raw: string; spans: PathSpans; count: number } | null = null;
      for (let turn = 0; turn < 30; turn++) {
        messages.push(
          {
            role: "assistant",
            content: [
              { type: "text", text: `Step ${turn} "q" ✓` },
              { type: "tool_use", id: `t${turn}`, name: "run", input: { z: turn, a: "x" } },
            ],
          },
          { role: "user", content: [{ type: "tool_result", tool_use_id: `t${turn}`, content: "ok" }] },
        );
        const raw = text(messages, pretty);
        // Edits at every tool call's arguments (as argumentKeys makes them) and at the tools; markers at the
        // last message, at an older one now and then, and on the root.
        const edits: { path: Path; value: unknown }[] = [
          { path: ["tools"], value: [{ input_schema: { a: 2, b: 1 }, name: "run" }] },
        ];
        messages.forEach((m, i) => {
          if (m.role === "assistant")
            edits.push({ path: ["messages", i, "content", 1, "input"], value: { a: "x", z: i } });
        });
        const older = 1 + 2 * Math.floor(r() * (messages.length / 2 - 1));
        const markers: Marker[] = [messages.length - 1, older].map((i) => ({
          path: ["messages", i, "content", 0],
          key: "cache_control",
          value: { type: "ephemeral" },
          textType: "text",
        }));
        const whole = renderBody(raw, edits, markers, [{ key: "stream", value: false }]);
        const upTo = prev ? itemEnd(prev.raw, prev.count) : 0;
        const hint = prev ? { prev: prev.spans, upTo } : undefined;
        // The same text in two parts, as body-memo.ts reads a later turn: the last turn's text (which this one
        // repeats through `upTo`, and which goes on differently) and the rest.
        const split: ScanHint | undefined = hint && {
          ...hint,
          parts: { head: (prev as { raw: string }).raw, tail: raw.slice(upTo), within: ["messages"] },
        };
        for (const h of [hint, split] as (ScanHint | undefined)[]) {
          const hinted = renderBody(raw, edits, markers, [{ key: "stream", value: false }], h);
          expect(hinted.text).toBe(whole.text);
          expect(hinted.withLeadingField('"lead":1')).toBe(whole.withLeadingField('"lead":1'));
          const bytes = new TextEncoder().encode(raw);
          expect(hinted.bytes(bytes, '"lead":1')).toEqual(whole.bytes(bytes, '"lead":1'));
          for (const e of edits) expect(hinted.spans?.span(e.path)).toEqual(whole.spans?.span(e.path));
          for (const m of markers)
            expect(hinted.spans?.entries(m.path)).toEqual(whole.spans?.entries(m.path));
          expect(hinted.spans?.entries([])).toEqual(whole.spans?.entries([]));
          // The render took the scan's text: the scan kept for the next turn holds none.
          expect(hinted.spans?.takeView().length).toBe(0);
          if (h?.parts) {
            const scan = new PathSpans(
              raw,
              edits.map((e) => e.path),
              markers.map((m) => m.path),
              h,
            );
            expect(scan.takeView().tail).toBe(raw.slice(upTo));
          }
        }
        const next = renderBody(raw, edits, markers, [{ key: "stream", value: false }], hint);
        prev = { raw, spans: next.spans as PathSpans, count: messages.length };
      }
    }
  });

  it("reads parts that do not cut between values (a value would run past the cut) as the whole text", () => {
    const raw = text([{ role: "user", content: "a long first message" }], false);
    const paths: Path[] = [["messages", 0, "content"], ["system"]];
    const whole = new PathSpans(raw, paths, []);
    // Cut inside the first message's string: read from the head, it would end past the cut.
    const cut = raw.indexOf("first");
    const head = `${raw.slice(0, cut)}FIRST and more"}],"x":1}`;
    const parts = { head, tail: raw.slice(cut), within: ["messages"] };
    const split = new PathSpans(raw, paths, [], { prev: whole, upTo: cut, parts });
    for (const p of paths) expect(split.span(p)).toEqual(whole.span(p));
    expect(split.takeView().tail).toBe("");
  });

  it("skips the repeated part: a text that differs there gives the scan's spans only where it repeats", () => {
    const a = text(
      [
        { role: "user", content: "one" },
        { role: "user", content: "two" },
      ],
      false,
    );
    const b = text(
      [
        { role: "user", content: "the first one" },
        { role: "user", content: "two" },
      ],
      false,
    );
    const paths: Path[] = [["messages", 1, "content"]];
    const earlier = new PathSpans(a, paths, []);
    // Told the texts agree only up to the start of the first message: item 1 is scanned, and found right.
    const upTo = itemEnd(a, 1) - 10;
    expect(new PathSpans(b, paths, [], { prev: earlier, upTo }).span(paths[0] as Path)).toEqual(
      new PathSpans(b, paths, []).span(paths[0] as Path),
    );
  });
});

describe("a later turn's render keeps the ops its earlier turns made for the same edits", () => {
  /** Tool calls whose arguments argumentKeys rewrites: one edit per call, the same object turn after turn. */
  function conversation(
    turns: number,
    pretty = false,
  ): { raws: string[]; edits: CanonicalEdit[][]; ends: number[] } {
    const messages: Json[] = [{ role: "user", content: "Start." }];
    const edits: CanonicalEdit[] = [];
    const out = { raws: [] as string[], edits: [] as CanonicalEdit[][], ends: [] as number[] };
    for (let turn = 0; turn < turns; turn++) {
      const i = messages.length;
      messages.push(
        {
          role: "assistant",
          content: [{ type: "tool_use", id: `t${turn}`, name: "run", input: { z: turn, a: "x" } }],
        },
        { role: "user", content: [{ type: "tool_result", tool_use_id: `t${turn}`, content: `ok ${turn}` }] },
      );
      edits.push({ path: ["messages", i, "content", 0, "input"], value: { a: "x", z: turn } });
      const raw = text(messages, pretty);
      out.raws.push(raw);
      out.edits.push([...edits]);
      out.ends.push(itemEnd(raw, messages.length));
    }
    return out;
  }

  const stream = [{ key: "stream", value: false }];
  const marker = (i: number): Marker => ({
    path: ["messages", i, "content", 0],
    key: "cache_control",
    value: { type: "ephemeral" },
    textType: "text",
  });

  it("renders what a render of the whole text does, without looking for the kept edits' paths again", () => {
    for (const pretty of [false, true]) {
      const { raws, edits, ends } = conversation(12, pretty);
      let prev: PathSpans | null = null;
      for (const [t, raw] of raws.entries()) {
        const e = edits[t] as CanonicalEdit[];
        // The last turn's text repeated through its last item; a marker on this turn's last tool call.
        const hint = prev ? { prev, upTo: ends[t - 1] as number } : undefined;
        const markers = [marker(e.length * 2 - 1)];
        const hinted = renderBody(raw, e, markers, stream, hint);
        const whole = renderBody(raw, e, markers, stream);
        expect(hinted.text).toBe(whole.text);
        const bytes = new TextEncoder().encode(raw);
        expect(hinted.bytes(bytes, '"lead":1')).toEqual(whole.bytes(bytes, '"lead":1'));
        // The earlier turns' edits were not looked for: their ops came from the last turn's render.
        for (const [k, edit] of e.entries()) {
          const kept = t > 0 && k < e.length - 1;
          expect(hinted.spans?.span(edit.path)).toEqual(kept ? null : whole.spans?.span(edit.path));
        }
        // Kept as the proxy keeps it for the next turn (body-memo.ts noteScan): without the paths it found.
        prev = hinted.spans?.pruned() ?? null;
        expect(prev?.span(e.at(-1)?.path ?? [])).toBeNull();
        expect(prev?.items(["messages"])).toHaveLength(e.length * 2 + 1);
      }
    }
  });

  it("finds an edit again when a marker now goes into its value", () => {
    const { raws, edits, ends } = conversation(3);
    const first = renderBody(raws[0] as string, edits[0] as CanonicalEdit[], [], stream);
    const e = edits[1] as CanonicalEdit[];
    // A marker inside the first call's arguments: that value changes, so its op cannot be the kept one.
    const inside: Marker = { ...marker(1), path: ["messages", 1, "content", 0, "input"] };
    const hinted = renderBody(raws[1] as string, e, [inside], stream, {
      prev: first.spans as PathSpans,
      upTo: ends[0] as number,
    });
    const whole = renderBody(raws[1] as string, e, [inside], stream);
    expect(hinted.text).toBe(whole.text);
    expect(hinted.text).toContain('"input":{"a":"x","z":0,"cache_control":{"type":"ephemeral"}}');
  });

  it("finds every edit again when a key after the repeated text moves the path elsewhere", () => {
    const { raws, edits, ends } = conversation(2);
    const first = renderBody(raws[0] as string, edits[0] as CanonicalEdit[], [], stream);
    // The next text repeats the first through its last item, then repeats `messages`: the last key wins, so
    // the kept op (in the first array) no longer edits what the path names.
    const e = edits[1] as CanonicalEdit[];
    const base = raws[1] as string;
    const dup = `${base.slice(0, -1)},"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_use","id":"t0","name":"run","input":{"z":0,"a":"y"}}]}]}`;
    const hinted = renderBody(dup, e, [], stream, {
      prev: first.spans as PathSpans,
      upTo: ends[0] as number,
    });
    const whole = renderBody(dup, e, [], stream);
    expect(hinted.text).toBe(whole.text);
    // The edit went into the second `messages`, as JSON.parse reads the body.
    expect(JSON.parse(hinted.text).messages[1].content[0].input).toEqual({ a: "x", z: 0 });
    expect(JSON.parse(hinted.text).messages).toHaveLength(2);
  });
});

import { beforeEach, describe, expect, it } from "vitest";
import { mulberry32 } from "../../bench/economics/synthetic.ts";
import {
  bodyMemoSize,
  clearBodyMemo,
  keepParsed,
  MAX_CHARS,
  MIN_CHARS,
  MIN_OPENING_SHARE,
  noteScan,
  parseAfterKept,
  SPLIT_MIN_CHARS,
} from "../../src/edge/body-memo.ts";
import { PathSpans } from "../../src/upstream/body/scan.ts";

type Json = Record<string, unknown>;

const rng = mulberry32;

// Characters of one, two, three and four UTF-8 bytes (🔥 is a surrogate pair), at every offset modulo 16K.
const SYSTEM = `You are a careful agent — «café» ✓ 🔥 "quoted" \\ back\nslash. `.repeat(1500);

/** A request's text as clients write it: fields in several orders, pretty or compact. */
function text(messages: unknown[], order: number, pretty: boolean): string {
  const fields: [string, unknown][] = [
    ["model", "claude-sonnet-4-5"],
    ["max_tokens", 1024],
    ["system", SYSTEM],
    ["tools", [{ name: "run", input_schema: { type: "object" } }]],
  ];
  const at = order % (fields.length + 1);
  const entries = [...fields.slice(0, at), ["messages", messages] as [string, unknown], ...fields.slice(at)];
  return JSON.stringify(Object.fromEntries(entries), null, pretty ? 2 : undefined);
}

const utf8 = new TextEncoder();

/** What the memo gives, or JSON.parse when it gives nothing (the worker's order), and whether it gave. */
function read(tenant: string, raw: string): { body: Json; text: string; after: boolean; sharedWith?: Json } {
  const bytes = utf8.encode(raw);
  const after = parseAfterKept(tenant, bytes);
  if (after) return { body: after.body, text: after.raw, after: true, sharedWith: after.sharedWith };
  const body = JSON.parse(raw) as Json;
  keepParsed(tenant, bytes, raw, body);
  return { body, text: raw, after: false };
}

const parsed = (tenant: string, raw: string) => parseAfterKept(tenant, utf8.encode(raw))?.body ?? null;

describe("a body parsed after the tenant's kept one (edge/body-memo.ts)", () => {
  beforeEach(() => clearBodyMemo());

  it("hands the render the text in two parts from SPLIT_MIN_CHARS on, and below it the joined text alone", () => {
    for (const [repeat, split] of [
      [1, false],
      [3, true],
    ] as const) {
      clearBodyMemo();
      const messages: Json[] = [{ role: "user", content: "Start." }];
      const request = () =>
        JSON.stringify({ model: "claude-sonnet-4-5", system: SYSTEM.repeat(repeat), messages });
      const first = request();
      const body = JSON.parse(first) as Json;
      keepParsed("tenant-split", utf8.encode(first), first, body);
      noteScan(body, new PathSpans(first, [], []));
      messages.push({ role: "assistant", content: "ok" }, { role: "user", content: "next" });
      const second = request();
      expect(second.length >= SPLIT_MIN_CHARS).toBe(split);
      const got = parseAfterKept("tenant-split", utf8.encode(second));
      expect(got?.raw).toBe(second);
      const hint = got?.scanHint;
      expect(hint?.parts !== undefined).toBe(split);
      if (hint?.parts) expect(hint.parts.head.slice(0, hint.upTo) + hint.parts.tail).toBe(second);
    }
  });

  it("is exactly what JSON.parse gives, key order included, turn after turn", () => {
    const r = rng(3);
    let afterKept = 0;
    for (const order of [0, 2, 4]) {
      for (const pretty of [false, true]) {
        const messages: unknown[] = [{ role: "user", content: "Start. ".repeat(50) }];
        let last: Json | null = null;
        for (let turn = 0; turn < 12; turn++) {
          if (turn > 0 && r() < 0.2)
            messages[messages.length - 1] = { role: "user", content: `Retry ${turn} «é»` };
          else
            messages.push(
              { role: "assistant", content: [{ type: "text", text: `Answer ${turn} "q" \\n` }] },
              { role: "user", content: [{ type: "tool_result", tool_use_id: `t${turn}`, content: "ok ✓" }] },
            );
          const raw = text(messages, order, pretty);
          const got = read(`tenant-${order}-${pretty}`, raw);
          expect(got.text).toBe(raw);
          expect(JSON.stringify(got.body)).toBe(JSON.stringify(JSON.parse(raw)));
          expect(Object.keys(got.body)).toEqual(Object.keys(JSON.parse(raw) as Json));
          if (got.after) {
            afterKept++;
            // It names the body it was read after, whose leading items it shares (the analysis reuses their pre-pass).
            expect(got.sharedWith).toBe(last);
            if (!last) throw new Error("read after a kept body without one");
            expect((got.body.messages as Json[])[0]).toBe((last.messages as Json[])[0]);
          }
          last = got.body;
        }
      }
    }
    // Every turn but each conversation's first was parsed after the last.
    expect(afterKept).toBe(6 * 11);
  });

  it("lays a body out from its render's scan when it has one, and the next turn reads exactly as from its own", () => {
    const other = text([{ role: "user", content: "Another text altogether. ".repeat(40) }], 1, true);
    const scans: Record<string, (raw: string, items: number) => PathSpans> = {
      // The render looked for paths in `messages` (a breakpoint on the last item): it walked its items.
      walked: (raw, items) => new PathSpans(raw, [["messages", items - 1, "content"]], []),
      // It looked only at the top level (OpenAI's key): the items are found here.
      "top level": (raw) => new PathSpans(raw, [], []),
      // A scan of another text (never noted so by the worker): its offsets do not fit, the text is scanned.
      stale: () => new PathSpans(other, [["messages", 0, "content"]], []),
    };
    for (const [kind, scanOf] of Object.entries(scans))
      for (const order of [0, 4])
        for (const pretty of [false, true]) {
          clearBodyMemo();
          const tenant = `tenant-scan-${kind}-${order}-${pretty}`;
          const messages: unknown[] = [{ role: "user", content: "Start «é» 🔥. ".repeat(30) }];
          for (let turn = 0; turn < 3; turn++)
            messages.push(
              { role: "assistant", content: [{ type: "text", text: `Answer ${turn}` }] },
              { role: "user", content: [{ type: "tool_result", tool_use_id: `t${turn}`, content: "ok ✓" }] },
            );
          const first = text(messages, order, pretty);
          const body = JSON.parse(first) as Json;
          noteScan(body, scanOf(first, messages.length));
          keepParsed(tenant, utf8.encode(first), first, body);
          messages.push({ role: "assistant", content: "done" }, { role: "user", content: "next «ü»" });
          const second = text(messages, order, pretty);
          const got = parseAfterKept(tenant, utf8.encode(second));
          if (!got)
            throw new Error(`${kind} ${order} ${pretty}: the next turn was not read after the kept body`);
          expect(got.raw).toBe(second);
          expect(JSON.stringify(got.body)).toBe(JSON.stringify(JSON.parse(second)));
          expect((got.body.messages as Json[])[0]).toBe((body.messages as Json[])[0]);
        }
  });

  it("reads a new conversation of the family after the kept body's opening when that is most of it", () => {
    // Anthropic's bodies carry tools and system before `messages`: only that opening agrees (no item).
    // OpenAI's carry the system message as the first item: the opening and that item agree.
    const anthropic = (first: string) =>
      JSON.stringify({
        model: "claude-sonnet-4-5",
        tools: [{ name: "run", description: SYSTEM, input_schema: { type: "object" } }],
        system: SYSTEM,
        messages: [{ role: "user", content: first }],
        max_tokens: 64,
      });
    const openai = (first: string) =>
      JSON.stringify({
        model: "gpt-5.4",
        messages: [
          { role: "system", content: SYSTEM },
          { role: "user", content: first },
        ],
        tools: [{ type: "function", function: { name: "run", parameters: {} } }],
      });
    for (const [name, make, shared] of [
      ["anthropic", anthropic, 0],
      ["openai", openai, 1],
    ] as const) {
      for (const pretty of [false, true]) {
        clearBodyMemo();
        const tenant = `opening-${name}-${pretty}`;
        const shape = (first: string) =>
          pretty ? JSON.stringify(JSON.parse(make(first)), null, 2) : make(first);
        const kept = read(tenant, shape("Hello «é» 🔥"));
        expect(kept.after).toBe(false);
        for (const first of ["Another conversation.", 'A third, "quoted" ✓']) {
          const raw = shape(first);
          const got = read(tenant, raw);
          expect(got.after).toBe(true);
          expect(got.text).toBe(raw);
          expect(JSON.stringify(got.body)).toBe(JSON.stringify(JSON.parse(raw)));
          expect(Object.keys(got.body)).toEqual(Object.keys(JSON.parse(raw) as Json));
          // The opening's values are the kept body's own objects (the analysis compares them by identity).
          if (name === "anthropic") expect(got.body.tools).toBe(kept.body.tools);
          const messages = got.body.messages as Json[];
          const keptMessages = kept.body.messages as Json[];
          expect(messages.slice(0, shared).every((m, i) => m === keptMessages[i])).toBe(true);
          expect(messages[shared]).not.toBe(keptMessages[shared]);
        }
      }
    }
  });

  it("reads a body whole when all it repeats of the kept one is an opening under MIN_OPENING_SHARE of it", () => {
    const make = (first: string) =>
      JSON.stringify({
        model: "claude-sonnet-4-5",
        system: "Be brief.",
        messages: [{ role: "user", content: first }],
      });
    read("short-opening", make(`One. ${SYSTEM}`));
    const other = make(`Two. ${SYSTEM}`);
    expect(other.length).toBeGreaterThan(MIN_CHARS);
    expect(parsed("short-opening", other)).toBeNull();
    // A retry of its conversation's turn (another last item) is read after the turn however long that item:
    // the rule is for other conversations.
    const retried = JSON.stringify({
      model: "claude-sonnet-4-5",
      system: "Be brief.",
      messages: [
        { role: "user", content: `One. ${SYSTEM}` },
        { role: "assistant", content: "ok" },
        { role: "user", content: "next" },
      ],
    });
    read("short-opening", retried);
    // A retry whose new last item is longer than all it repeats.
    const retry = retried.replace('"next"', JSON.stringify(`Again. ${SYSTEM.repeat(4)}`));
    expect(retried.length).toBeLessThan(retry.length * MIN_OPENING_SHARE);
    expect(JSON.stringify(parsed("short-opening", retry))).toBe(JSON.stringify(JSON.parse(retry)));
  });

  it("gives nothing for a text that is not valid JSON past the kept part, nor for another tenant", () => {
    const messages: unknown[] = [{ role: "user", content: "Start. ".repeat(50) }];
    const base = text(messages, 2, false);
    read("a", base);
    const grown = text([...messages, { role: "assistant", content: "Hi" }], 2, false);
    expect(grown.length).toBeGreaterThan(MIN_CHARS);
    const cut = grown.lastIndexOf("]");
    const broken = [
      `${grown.slice(0, cut)},]${grown.slice(cut + 1)}`, // a trailing comma in messages
      `${grown.slice(0, -1)},}`, // a trailing comma at the top level
      `${grown} x`, // text after the body
      `${grown.slice(0, -1)},"model":"other"}`, // a key again: JSON.parse would keep the last
      `${grown.slice(0, cut)},{"role":"user","content":"x"]}`, // an unclosed item
    ];
    for (const raw of broken) expect(parsed("a", raw)).toBeNull();
    // With messages last: a comma and nothing after the array.
    read("c", text(messages, 4, false));
    const last = text([...messages, { role: "assistant", content: "Hi" }], 4, false);
    expect(parsed("c", `${last.slice(0, -1)},}`)).toBeNull();
    // Valid, for the tenant that kept it; another tenant parses it whole.
    expect(parsed("b", grown)).toBeNull();
    expect(JSON.stringify(parsed("a", grown))).toBe(JSON.stringify(JSON.parse(grown)));
  });

  it("counts bytes right across four-byte characters (a surrogate pair at every window boundary)", () => {
    for (const pad of [0, 1]) {
      const system = `${"x".repeat(pad)}${"🔥".repeat(20_000)}`;
      const messages: unknown[] = [{ role: "user", content: "Hi 🔥" }];
      const first = JSON.stringify({ system, messages });
      keepParsed(`p${pad}`, utf8.encode(first), first, JSON.parse(first) as Json);
      const next = JSON.stringify({ system, messages: [...messages, { role: "assistant", content: "🔥!" }] });
      expect(JSON.stringify(parsed(`p${pad}`, next))).toBe(JSON.stringify(JSON.parse(next)));
    }
  });

  it("keeps no body whose top level repeats a key", () => {
    const raw = `{"model":"a","messages":[{"role":"user","content":"${"x".repeat(MIN_CHARS)}"}],"model":"b"}`;
    keepParsed("a", utf8.encode(raw), raw, JSON.parse(raw) as Json);
    expect(bodyMemoSize().bodies).toBe(0);
  });

  it("holds at most its bound of characters", () => {
    const big = "y".repeat(MAX_CHARS / 10);
    for (let k = 0; k < 30; k++) {
      const raw = text([{ role: "user", content: `${k}${big}` }], 0, false);
      read(`t${k % 7}`, raw);
      expect(bodyMemoSize().chars).toBeLessThanOrEqual(MAX_CHARS);
    }
    expect(bodyMemoSize().bodies).toBeGreaterThan(0);
  });
});

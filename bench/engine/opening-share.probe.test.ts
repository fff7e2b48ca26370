// Where reading a new conversation after its family's kept opening pays (src/edge/body-memo.ts, the bound
// on the opening's share of the body): 100K-token Anthropic bodies whose tools and system are 10-80 % of
// the prompt and whose history is of their own, read as the route's reader reads them, with the opening
// path on (at any share) and off, plus what each leaves for after the response (the kept body laid out, or the
// joined text made flat). Three rounds; means per request. Run:
// `npx vitest run --config bench/engine/probe.config.ts` (prints the table; writes nothing).
import { it } from "vitest";
import { clearBodyMemo, flattenJoined, keepParsed, parseAfterKept } from "../../src/edge/body-memo.ts";
import { prose } from "../overhead/bodies.ts";

const SHARES = [0.1, 0.2, 0.3, 0.5, 0.8];

/** Bodies of one family: the opening is `share` of 100K tokens, the rest a history with a first line of its own. */
function family(share: number): Uint8Array[] {
  const head = Math.round(100_000 * share);
  const tools = Array.from({ length: 8 }, (_, i) => ({
    name: `tool_${i}`,
    description: prose(Math.round((head * 0.6) / 8), 10 + i),
    input_schema: { type: "object" },
  }));
  const system = prose(Math.round(head * 0.4), 99);
  const history = Array.from({ length: 40 }, (_, i) => ({
    role: i % 2 ? "assistant" : "user",
    content: prose(Math.round((100_000 - head) / 40), 500 + i),
  }));
  const encoder = new TextEncoder();
  return Array.from({ length: 32 }, (_, i) =>
    encoder.encode(
      JSON.stringify({
        model: "claude-sonnet-4-5",
        max_tokens: 256,
        tools,
        system,
        messages: [
          { role: "user", content: `Conversation ${i}. ${history[0]?.content}` },
          ...history.slice(1),
        ],
      }),
    ),
  );
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** One body read as the route's reader does (bytes whole, then after a kept body or decoded and parsed). */
async function one(tenant: string, bytes: Uint8Array, opening: boolean) {
  const req = new Request("http://stoker/", { method: "POST", body: bytes });
  const t0 = performance.now();
  const got = new Uint8Array(await req.arrayBuffer());
  // Off: the opening path is never taken (a bound no body reaches); on: taken at any share.
  const after = parseAfterKept(tenant, got, opening ? 0 : 2);
  const raw = after?.raw ?? utf8.decode(got);
  const body = after?.body ?? (JSON.parse(raw) as Record<string, unknown>);
  const t1 = performance.now();
  // After the response: a body read whole is laid out and kept; one read after a kept body has its joined
  // text made flat (by the render, or once the answer is out), which the next read needs.
  if (!after) keepParsed(tenant, got, raw, body);
  else flattenJoined(raw);
  return { read: t1 - t0, after: performance.now() - t1, opened: after !== null };
}

it("reads a new conversation after its family's opening, by the opening's share", async () => {
  const rows = [
    "| round | opening share | read whole + after | after the opening + after | read after the opening |",
    "|---|---|---|---|---|",
  ];
  for (const round of [1, 2, 3])
    for (const share of SHARES) {
      const bodies = family(share);
      const cells: string[] = [];
      let opened = 0;
      for (const opening of [false, true]) {
        clearBodyMemo();
        const tenant = `probe-${round}-${share}`;
        let i = 0;
        const settle = performance.now() + 1000;
        while (performance.now() < settle) await one(tenant, bodies[i++ % 32] as Uint8Array, opening);
        let read = 0;
        let after = 0;
        let n = 0;
        const stop = performance.now() + 2000;
        for (; performance.now() < stop; n++) {
          const r = await one(tenant, bodies[i++ % 32] as Uint8Array, opening);
          read += r.read;
          after += r.after;
          if (opening && r.opened) opened++;
        }
        cells.push(`${(read / n).toFixed(3)} + ${(after / n).toFixed(3)}`);
        if (opening) cells.push(`${opened} of ${n}`);
      }
      rows.push(`| ${round} | ${share} | ${cells.join(" | ")} |`);
    }
  console.log(`\n${rows.join("\n")}\n`);
});

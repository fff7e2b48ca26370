// What two steps after the response cost with and without what the request path already made, on 100K-token
// first requests of the overhead benchmark (bench/overhead/bodies.ts) through prepare as the worker runs it:
// - keeping the body for the next turn (src/edge/body-memo.ts `keepParsed`): laid out from the render's scan
//   of its text (noted by the proxy), or from a scan of its own;
// - the record's serialization as its RPC does it (`structuredClone`), its keepalive capture carrying the
//   bytes sent upstream (as the proxy's record does) or the body's text (a string of the render's pieces).
// Every other request takes each first way, so both ways share the isolate's state. Three rounds; means per
// request. Part of `npm run bench:engine` (bench/report/engine.md).
import { it } from "vitest";
import { keepParsed, noteScan } from "../../src/edge/body-memo.ts";
import { keepaliveCapture } from "../../src/edge/capture.ts";
import { toRecord } from "../../src/edge/record.ts";
import type { Outcome } from "../../src/upstream/outcome.ts";
import { bodyFactory, type Upstream } from "../overhead/bodies.ts";
import { config, prepareAsWorker } from "./as-worker.ts";
import { AFTER_TITLE } from "./tables.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const RUN_MS = 4000;

async function round(upstream: Upstream, r: number): Promise<string> {
  const tenantId = `after-${upstream}-${r}`;
  const endpoint = upstream === "anthropic" ? "messages" : "chat.completions";
  const make = bodyFactory(upstream, 100_000, false, 400, true);
  const ms = { noted: 0, own: 0, bytes: 0, text: 0, n: 0 };
  const until = performance.now() + RUN_MS;
  for (let i = 0; performance.now() < until; i++) {
    const bytes = new Uint8Array(make(i));
    const raw = utf8.decode(bytes);
    const body = JSON.parse(raw) as Record<string, unknown>;
    const at = 1_800_000_000_000 + i * 15_000;
    const { prepared, model, info } = await prepareAsWorker(upstream, tenantId, { raw, body }, at);
    const sent = prepared.rendered?.bytes(bytes) ?? null;
    const capture = keepaliveCapture(prepared, prepared.body, new Headers(), "/v1/messages");
    const outcome = { requestId: `r-${i}`, tenantId, upstream, endpoint, model, stream: false, status: 200 };
    const first = i % 2 === 0;
    if (first && prepared.rendered?.spans) noteScan(body, prepared.rendered.spans);
    const t0 = performance.now();
    keepParsed(tenantId, bytes, raw, body);
    const t1 = performance.now();
    const record = toRecord(
      {
        ...outcome,
        result: "ok",
        usage: null,
        startedAt: at,
        headersMs: 5,
        ttfbMs: 5,
        durationMs: 8,
      } as Outcome,
      prepared,
      first && capture && sent ? { ...capture, body: sent } : capture,
      config.models,
      info,
    );
    const t2 = performance.now();
    structuredClone(record);
    const t3 = performance.now();
    if (i < 20) continue;
    ms[first ? "noted" : "own"] += t1 - t0;
    ms[first ? "bytes" : "text"] += t3 - t2;
    ms.n++;
  }
  const per = (x: number) => (x / (ms.n / 2)).toFixed(3);
  const name = upstream === "openai" ? "openai-chat" : upstream;
  return `| ${name} 100K | ${r + 1} | ${ms.n} | ${per(ms.noted)} | ${per(ms.own)} | ${per(ms.bytes)} | ${per(ms.text)} |`;
}

it("two steps after the response, with and without what the request path made", async () => {
  const rows = [
    "| request | round | requests | body kept: laid out from the render's scan | scanned again | record cloned: capture as the bytes sent | as text |",
    "|---|---|---|---|---|---|---|",
  ];
  for (let r = 0; r < 3; r++)
    for (const upstream of ["anthropic", "openai"] as const) rows.push(await round(upstream, r));
  console.log(`\n${AFTER_TITLE}\n${rows.join("\n")}\n`);
});

// A first request's floor: what reading its body costs before Stoker does anything of its own (the bytes
// read from a `Request`, decoded with the UTF-8 check, JSON.parse), against Stoker's whole request path on
// the same kind of body (readRequestBody with the tenant's kept bodies, prepare as the worker runs it, the
// bytes to send). The overhead benchmark's first requests (a new conversation of the family carrying
// earlier turns, bench/overhead/bodies.ts); the two ways alternate request by request, so they share the
// isolate's state, and the body is kept after each path request as the proxy keeps it. workerd's clock
// ticks in whole milliseconds: a mean over many requests, each reading 0 or 1 ms in proportion to its
// length. Part of `npm run bench:engine` (bench/report/engine.md).
import { it } from "vitest";
import { readRequestBody } from "../../src/edge/body.ts";
import { keepParsed, noteScan } from "../../src/edge/body-memo.ts";
import { diagnosticsField } from "../../src/upstream/diagnostics.ts";
import { bodyFactory, type Upstream } from "../overhead/bodies.ts";
import { config, prepareAsWorker, requestOf } from "./as-worker.ts";
import { FLOOR_TITLE } from "./tables.ts";

const SIZES = (process.env.BENCH_SIZES ?? "2000,20000,100000,200000").split(",").map(Number);
const RUN_MS = 3000;
const WARMUP = 20;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

async function group(upstream: Upstream, tokens: number): Promise<string> {
  const tenantId = `floor-${upstream}-${tokens}`;
  const make = bodyFactory(upstream, tokens, false, 500 + tokens / 1000, true);
  const ms = { floor: 0, path: 0, floors: 0, paths: 0 };
  const until = performance.now() + RUN_MS;
  for (let i = 0; performance.now() < until; i++) {
    const bytes = new Uint8Array(make(i));
    const req = requestOf(bytes);
    const floor = i % 2 === 0;
    const t0 = performance.now();
    if (floor) {
      JSON.parse(utf8.decode(new Uint8Array(await req.arrayBuffer())));
    } else {
      const read = await readRequestBody(req, config.maxBodyBytes, config.analysisMaxBytes, tenantId);
      if (read.raw === null) throw new Error("over the analysis budget");
      const { prepared } = await prepareAsWorker(upstream, tenantId, read, 1_800_000_000_000 + i * 15_000);
      if (prepared.rendered?.spans) noteScan(read.body, prepared.rendered.spans);
      const lead = upstream === "anthropic" ? diagnosticsField(null) : undefined;
      if ((prepared.rendered?.bytes(read.bytes, lead) ?? prepared.body).length === 0)
        throw new Error("empty");
      const t1 = performance.now();
      if (i >= WARMUP) {
        ms.path += t1 - t0;
        ms.paths++;
      }
      // Once the request has gone upstream, as the proxy keeps it (off the clock).
      keepParsed(tenantId, read.bytes, read.raw, read.body);
      continue;
    }
    if (i >= WARMUP) {
      ms.floor += performance.now() - t0;
      ms.floors++;
    }
  }
  const floor = ms.floor / ms.floors;
  const path = ms.path / ms.paths;
  const name = `${upstream === "openai" ? "openai-chat" : upstream} ${tokens / 1000}K`;
  return `| ${name} | ${ms.floors} / ${ms.paths} | ${floor.toFixed(3)} | ${path.toFixed(3)} | **${(path - floor).toFixed(3)}** |`;
}

it("a first request's floor against Stoker's request path", async () => {
  const rows = [
    "| first request | requests timed: floor / path | floor: body read, decoded, parsed | Stoker's request path | **path − floor** |",
    "|---|---|---|---|---|",
  ];
  for (const upstream of ["anthropic", "openai"] as const)
    for (const tokens of SIZES) rows.push(await group(upstream, tokens));
  console.log(`\n${FLOOR_TITLE}\n${rows.join("\n")}\n`);
});

// Peak JS heap of one request's analysis, for bodies of 1 to 32 MiB (issue 18): what the edge holds while it
// handles a large request, on the path under the analysis budget (decode, parse, analyze, plan, render) and
// on the path over it (over the byte budget: the top level read from the bytes, which are forwarded as they
// came; over the block budget: decode, parse, forward unchanged). Each size runs in a child Node process with the
// heap capped like a Workers isolate (128 MB), so "fits" means the request would not kill the isolate.
//   node --expose-gc scripts/analysis-memory.ts            (all sizes, both paths)
//   node --expose-gc scripts/analysis-memory.ts --one 8 analyzed   (one run; what the parent spawns)

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { DEFAULT_CACHE_SETTINGS } from "../src/plan/settings.ts";

const MiB = 1024 * 1024;
const SIZES = [1, 2, 4, 8, 16, 32];
const ISOLATE_MB = 128;

/** An Anthropic body of `bytes`: a system prompt and alternating turns of four ~1 KiB text blocks each. */
function body(bytes: number): Uint8Array {
  const text = "lorem ipsum dolor sit amet, consectetur adipiscing elit ".repeat(18); // ~1 KiB
  const messages: { role: string; content: { type: string; text: string }[] }[] = [];
  let size = 200;
  while (size < bytes) {
    const role = messages.length % 2 === 0 ? "user" : "assistant";
    const n = messages.length;
    const content = [0, 1, 2, 3].map((i) => ({ type: "text", text: `${n}.${i} ${text}` }));
    messages.push({ role, content });
    size += 4 * (text.length + 40) + 40;
  }
  if (messages.length % 2 === 0) messages.push({ role: "user", content: [{ type: "text", text: "and?" }] });
  const json = JSON.stringify({ model: "claude-sonnet-4-6", max_tokens: 8, system: text, messages });
  return new TextEncoder().encode(json);
}

async function one(mib: number, path: "analyzed" | "skipped"): Promise<void> {
  const { prepare } = await import("../src/edge/prepare.ts");
  const { overAnalysisBudget } = await import("../src/edge/budget.ts");
  const { isUtf8, shallowJson } = await import("../src/edge/shallow-json.ts");
  const { parseConfig } = await import("../src/core/config.ts");
  const config = parseConfig({ STOKER_SIMULATOR: "1" } as unknown as Env);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --expose-gc");
  const bytes = body(mib * MiB);
  gc();
  const before = process.memoryUsage().heapUsed;
  let peak = before;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  };
  const started = performance.now();
  let raw: string | null = null;
  let parsed: unknown = null;
  let over: string | null = null;
  let out: unknown = null;
  if (path === "skipped" && bytes.byteLength > config.analysisMaxBytes) {
    // As served over the budget in bytes (src/edge/body.ts readRequestBody): UTF-8 checked a chunk at a
    // time, the top level read from the bytes, the bytes forwarded as they came.
    if (!isUtf8(bytes)) throw new Error("not UTF-8");
    sample();
    parsed = shallowJson(bytes);
    over = "bytes";
    out = bytes;
    sample();
  } else {
    raw = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
    sample();
    parsed = JSON.parse(raw) as Record<string, unknown>;
    sample();
    over = overAnalysisBudget(
      raw,
      parsed as Record<string, unknown>,
      path === "analyzed" ? Number.MAX_SAFE_INTEGER : config.analysisMaxBytes,
    );
    out = raw;
    if (path === "analyzed" || !over) {
      const log = { debug() {}, info() {}, warn() {}, error() {} };
      const prepared = await prepare({
        endpoint: "messages",
        raw,
        body: parsed as Record<string, unknown>,
        tenantId: "bench",
        tenantRules: {},
        settings: DEFAULT_CACHE_SETTINGS,
        config,
        canonicalizeHeader: null,
        nowMs: Date.now(),
        lookup: async () => ({ known: new Map() }),
        log,
      });
      sample();
      out = prepared; // the handler keeps the analysis until the request is accounted
    }
  }
  const ms = performance.now() - started;
  sample();
  // What the handler still holds while the request is forwarded: bytes, raw, parsed, the body it sends.
  const held = [bytes, raw, parsed, out];
  gc();
  const live = process.memoryUsage().heapUsed - before;
  console.log(
    JSON.stringify({
      mib,
      path,
      over,
      peakMiB: (peak - before) / MiB,
      liveMiB: live / MiB,
      ms,
      held: held.length,
    }),
  );
}

function parent(): void {
  const self = fileURLToPath(import.meta.url);
  const rows: string[] = [];
  for (const path of ["analyzed", "skipped"] as const) {
    for (const mib of SIZES) {
      const r = spawnSync(
        process.execPath,
        [
          "--expose-gc",
          `--max-old-space-size=${ISOLATE_MB}`,
          "--max-semi-space-size=64",
          self,
          "--one",
          String(mib),
          path,
        ],
        { encoding: "utf8" },
      );
      const line = r.stdout.trim().split("\n").pop() ?? "";
      if (r.status === 0 && line.startsWith("{")) {
        const x = JSON.parse(line) as { peakMiB: number; liveMiB: number; ms: number; over: string | null };
        rows.push(
          `| ${mib} MiB | ${path} | ${x.over ?? "—"} | fits | ${x.peakMiB.toFixed(0)} | ${x.liveMiB.toFixed(0)} | ${(x.peakMiB / mib).toFixed(1)}× | ${x.ms.toFixed(0)} |`,
        );
      } else {
        const oom = /heap out of memory|Allocation failed/i.test(r.stderr);
        rows.push(
          `| ${mib} MiB | ${path} | — | ${oom ? "**out of memory**" : `exit ${r.status}`} | — | — | — | — |`,
        );
      }
      console.error(rows[rows.length - 1]);
    }
  }
  console.log(
    [
      `| body | path | over budget | heap capped at ${ISOLATE_MB} MB | peak heap MiB | held MiB | peak / body | ms |`,
      "| --- | --- | --- | --- | --- | --- | --- | --- |",
      ...rows,
    ].join("\n"),
  );
}

const args = process.argv.slice(2);
if (args[0] === "--one") await one(Number(args[1]), args[2] === "skipped" ? "skipped" : "analyzed");
else parent();

import { join } from "node:path";
import { loadTrace } from "./load.ts";
import { trainingHalf } from "./split.ts";
import { runSuite } from "./suite.ts";
import { syntheticWorkloads } from "./synthetic.ts";
import type { Trace } from "./trace.ts";

/**
 * A development loop for the decision core: Stoker's row (and, with `--baselines`, the simple policies) on
 * chosen workloads (the training half and training seeds: never the report's), one line each, without
 * writing a report. `node bench/economics/try.ts [--only name]
 * [--baselines] [--quick N] [--prices openai] [--no-keepalive]`. The report is `npm run bench:economics`.
 */

const args = process.argv.slice(2);
const flag = (name: string): string | undefined =>
  args.includes(name) ? args[args.indexOf(name) + 1] : undefined;
const only = flag("--only");
const quick = Number(flag("--quick") ?? 0);
const withBaselines = args.includes("--baselines");
const prices = flag("--prices") === "openai" ? "openai" : "anthropic";
const keepalive = args.includes("--no-keepalive") ? { enabled: false } : undefined;

function head(trace: Trace): Trace {
  if (!quick || trace.requests.length <= quick) return trace;
  const requests = trace.requests.slice(0, quick);
  return { ...trace, requests, endMs: requests.at(-1)?.atMs ?? 0 };
}

const workloads = [
  ...syntheticWorkloads("training").map((w) => ({
    name: w.name,
    trace: w.trace,
    headFallback: w.rootPosition,
  })),
  {
    name: "Mooncake",
    trace: trainingHalf(loadTrace(join(import.meta.dirname, "../data/mooncake_conversation.jsonl"))),
    headFallback: undefined,
  },
].filter((w) => !only || w.name.toLowerCase().includes(only.toLowerCase()));

for (const w of workloads) {
  const started = Date.now();
  const suite = await runSuite(head(w.trace), prices, {
    headFallback: w.headFallback,
    baselines: withBaselines ? undefined : new Set<string>(),
    keepalive,
  });
  const cells = suite.rows.map((r) => `${r.key} ${r.result.cost.toFixed(3)}`);
  const s = suite.stoker;
  const mix = `w5m ${(s.write5mTokens / 1e6).toFixed(1)}M w1h ${(s.write1hTokens / 1e6).toFixed(1)}M read ${(s.readTokens / 1e6).toFixed(1)}M pings ${s.pings}`;
  console.log(`${w.name}: ${cells.join(" | ")} [${mix}] (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

// The engine's CPU (canonicalize + hash, plan, render) is bench/engine's job; this runs it as it is
// (`npm run bench:engine`) and quotes its rows, rather than measuring the same thing a second way.
import { join } from "node:path";
import { runToEnd } from "./procs.ts";
import { ROOT } from "./wrangler.ts";

export interface EngineRows {
  header: string[];
  rows: string[];
  ok: boolean;
  note: string;
}

export async function engineBench(sizes: string[]): Promise<EngineRows> {
  const vitest = join(ROOT, "node_modules/vitest/vitest.mjs");
  const { code, output } = await runToEnd(
    "engine bench",
    [vitest, "run", "--config", "bench/engine/vitest.config.ts", "--root", ROOT],
    { NO_COLOR: "1", FORCE_COLOR: "0" },
    240_000,
  );
  const lines = output.split("\n").map((l) => l.trim());
  const header = lines.filter((l) => l.startsWith("| request |") || l.startsWith("|---")).slice(0, 2);
  const rows = lines.filter((l) =>
    sizes.some((s) => l.startsWith(`| anthropic ${s} `) || l.startsWith(`| openai-chat ${s} `)),
  );
  const ok = code === 0 && rows.length > 0;
  return { header, rows, ok, note: ok ? "" : `engine bench exited ${code}:\n${output.slice(-1500)}` };
}

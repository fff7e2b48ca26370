// The in-isolate CPU of Stoker's request path and of the engine alone is bench/engine's job; this runs it
// as it is (`npm run bench:engine`) and quotes its rows, rather than measuring the same things a second way.
import { join } from "node:path";
import { ENGINE_TITLE, PATH_TITLE } from "../engine/tables.ts";
import { runToEnd } from "./procs.ts";
import { ROOT } from "./wrangler.ts";

export interface EngineRows {
  /** The engine alone (engine.bench.test.ts). */
  header: string[];
  rows: string[];
  /** Stoker's own request path as the worker runs it (request-path.bench.test.ts). */
  pathHeader: string[];
  pathRows: string[];
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
  /** The table printed after `title`: its header, and its rows at `sizes`. */
  const table = (title: string) => {
    const from = lines.findIndex((l) => l.includes(title));
    const own: string[] = [];
    for (const l of from < 0 ? [] : lines.slice(from + 1)) {
      if (!l.startsWith("|")) break;
      own.push(l);
    }
    return {
      header: own.slice(0, 2),
      rows: own.filter((l) =>
        sizes.some((s) => l.startsWith(`| anthropic ${s} `) || l.startsWith(`| openai-chat ${s} `)),
      ),
    };
  };
  const engine = table(ENGINE_TITLE);
  const path = table(PATH_TITLE);
  const ok = code === 0 && engine.rows.length > 0 && path.rows.length > 0;
  return {
    ...engine,
    pathHeader: path.header,
    pathRows: path.rows,
    ok,
    note: ok ? "" : `engine bench exited ${code}:\n${output.slice(-1500)}`,
  };
}

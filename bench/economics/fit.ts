import { join } from "node:path";
import { USE_CLASSES, WINDOWS } from "../../src/decide/gaps.ts";
import { HEADS_TABLE, TENANT_TABLE } from "../../src/tracker/conversation-state.ts";
import { loadTrace } from "./load.ts";
import { trainingHalf } from "./split.ts";
import { SUITE_MODELS } from "./suite.ts";
import { syntheticWorkloads } from "./synthetic.ts";
import type { Trace } from "./trace.ts";
import { replayWorker } from "./worker/stoker.ts";

/**
 * `node bench/economics/fit.ts [--heads]`: fits the priors of src/decide/hazard.ts on training data only,
 * never on what the report shows (split.ts, the synthetic workloads' training seeds). It runs the worker's own
 * path, reads the survival tables as the Tracker learned them, and prints literals to paste into hazard.ts.
 * - Default: `PRIOR_H`, each use class's hazard per 5-minute window in the tenant table (conversations) of
 *   the Mooncake training half. Windows with fewer than 50 conversations at risk continue the previous
 *   window's hazard at 0.6 per window.
 * - `--heads`: `HEAD_PRIOR_H`, the heads table pooled over every training workload (the Mooncake training
 *   half and each synthetic workload's training seed: one shared head each, RAG's ten documents). Window 0
 *   per use class (pooled when a class has fewer than 50 heads at risk); later windows are rarer, so windows 1
 *   and 2 are pooled over the classes and windows 3 to 11 over the classes and the windows.
 */

const MIN_AT_RISK = 50;
const EXTRAPOLATE = 0.6;
const heads = process.argv.includes("--heads");
const mooncake = trainingHalf(loadTrace(join(import.meta.dirname, "../data/mooncake_conversation.jsonl")));

type Counts = { atRisk: number[]; returns: number[] };
/** Counts of one use class (all turn classes) and window, over the tables given. */
function counts(tables: readonly Counts[], useClasses: readonly number[], windows: readonly number[]) {
  const turnClasses = (tables[0]?.atRisk.length ?? 0) / WINDOWS / USE_CLASSES.length;
  let atRisk = 0;
  let returns = 0;
  for (const t of tables)
    for (const u of useClasses)
      for (let c = 0; c < turnClasses; c++)
        for (const j of windows) {
          const i = (u * turnClasses + c) * WINDOWS + j;
          atRisk += t.atRisk[i] ?? 0;
          returns += t.returns[i] ?? 0;
        }
  return { atRisk, returns };
}

async function learned(trace: Trace, table: string, headFallback?: number): Promise<Counts> {
  let out: Counts = { atRisk: [], returns: [] };
  await replayWorker(trace, {
    api: "anthropic",
    mapping: "block",
    model: SUITE_MODELS.anthropic,
    headFallback,
    keepalive: { maxUsdPerDay: 1e9 },
    onDone: (state) => {
      const t = state.conversations.store.family(table);
      out = { atRisk: [...t.atRisk], returns: [...t.returns] };
    },
  });
  return out;
}

const classes = USE_CLASSES.map((_, u) => u);
const allWindows = Array.from({ length: WINDOWS }, (_, j) => j);
const rate = (c: { atRisk: number; returns: number }) => c.returns / Math.max(c.atRisk, 1);

if (heads) {
  const tables = [await learned(mooncake, HEADS_TABLE)];
  for (const w of syntheticWorkloads("training"))
    tables.push(await learned(w.trace, HEADS_TABLE, w.rootPosition));
  const later = [
    rate(counts(tables, classes, [1])),
    rate(counts(tables, classes, [2])),
    ...new Array<number>(WINDOWS - 3).fill(rate(counts(tables, classes, allWindows.slice(3)))),
  ];
  const rows = classes.map((u) => {
    const own = counts(tables, [u], [0]);
    const first = own.atRisk >= MIN_AT_RISK ? rate(own) : rate(counts(tables, classes, [0]));
    return `  [${[first, ...later].map((h) => h.toFixed(3)).join(", ")}],`;
  });
  const n = syntheticWorkloads("training").length;
  console.log(
    `// heads of the Mooncake training half and ${n} synthetic training workloads\nconst HEAD_PRIOR_H = [\n${rows.join("\n")}\n];`,
  );
} else {
  const table = await learned(mooncake, TENANT_TABLE);
  const rows = classes.map((u) => {
    const h: string[] = [];
    for (let j = 0; j < WINDOWS; j++) {
      const c = counts([table], [u], [j]);
      // Windows the half cannot observe enough of (it is 30 minutes long) continue the last fitted hazard
      // at 0.6 per window.
      const last = Number(h[j - 1] ?? 0);
      h.push(c.atRisk >= MIN_AT_RISK ? rate(c).toFixed(3) : (last * EXTRAPOLATE).toFixed(3));
    }
    return `  [${h.join(", ")}],`;
  });
  console.log(
    `// ${mooncake.requests.length} requests (Mooncake, training half)\nconst PRIOR_H = [\n${rows.join("\n")}\n];`,
  );
}

import { join } from "node:path";
import { USE_CLASSES, WINDOWS } from "../../src/decide/gaps.ts";
import { TENANT_TABLE } from "../../src/tracker/conversation-state.ts";
import { loadTrace } from "./load.ts";
import { trainingHalf } from "./split.ts";
import { SUITE_MODELS } from "./suite.ts";
import { replayWorker } from "./worker/stoker.ts";

/**
 * `node bench/economics/fit.ts`: fits the keepalive and planner prior (src/decide/hazard.ts `PRIOR_H`) on the
 * training half of the Mooncake conversation trace, never on the half the report shows (split.ts). It runs
 * the worker's own path over the training half, reads the tenant's survival table as the Tracker learned it,
 * and prints each use class's hazard per 5-minute window (the pooled return rate of conversations standing
 * in that class), rounded to three places, to paste into hazard.ts. Windows with fewer than 50 conversations
 * at risk continue the previous window's hazard at 0.6 per window.
 */

const MIN_AT_RISK = 50;
const EXTRAPOLATE = 0.6;
const trace = trainingHalf(loadTrace(join(import.meta.dirname, "../data/mooncake_conversation.jsonl")));
let rows: string[] = [];
await replayWorker(trace, {
  api: "anthropic",
  mapping: "block",
  model: SUITE_MODELS.anthropic,
  keepalive: { maxUsdPerDay: 1e9 },
  onDone: (state) => {
    const table = state.conversations.store.family(TENANT_TABLE);
    const classes = table.atRisk.length / WINDOWS;
    const perUse = USE_CLASSES.length;
    const turnClasses = classes / perUse;
    rows = USE_CLASSES.map((_, u) => {
      const h: string[] = [];
      for (let j = 0; j < WINDOWS; j++) {
        let atRisk = 0;
        let returns = 0;
        for (let t = 0; t < turnClasses; t++) {
          const i = (u * turnClasses + t) * WINDOWS + j;
          atRisk += table.atRisk[i] ?? 0;
          returns += table.returns[i] ?? 0;
        }
        // Windows the half cannot observe enough of (it is 30 minutes long) continue the last fitted hazard
        // at 0.6 per window.
        const last = Number(h[j - 1] ?? 0);
        h.push(atRisk >= MIN_AT_RISK ? (returns / atRisk).toFixed(3) : (last * EXTRAPOLATE).toFixed(3));
      }
      return `  [${h.join(", ")}],`;
    });
  },
});
console.log(
  `// ${trace.requests.length} requests (Mooncake, training half)\nconst PRIOR_H = [\n${rows.join("\n")}\n];`,
);

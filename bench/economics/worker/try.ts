import { modelInfo } from "../../../src/economics/models.ts";
import { loadTrace } from "../load.ts";
import { anthropicClients, replayClient } from "./clients.ts";
import { replayWorker } from "./stoker.ts";

const trace = loadTrace(process.argv[2] ?? "bench/data/mooncake_conversation.jsonl");
const n = Number(process.argv[3] ?? 500);
const mapping = (process.argv[4] ?? "block") as "block";
const small = { ...trace, requests: trace.requests.slice(0, n), endMs: trace.requests[n - 1]?.atMs ?? 0 };
const model = "claude-sonnet-4-5";
const mi = modelInfo(model);
for (const p of anthropicClients(mi)) {
  const t0 = performance.now();
  const r = await replayClient(small, p, { api: "anthropic", mapping, model, modelInfo: mi });
  console.log(
    p.key.padEnd(18),
    r.cost.toFixed(4),
    "pings",
    r.pings,
    (performance.now() - t0).toFixed(0),
    "ms",
  );
}
const t0 = performance.now();
const r = await replayWorker(small, { api: "anthropic", mapping, model, keepalive: { maxUsdPerDay: 1e9 } });
console.log(
  "stoker".padEnd(18),
  r.cost.toFixed(4),
  "pings",
  r.pings,
  (performance.now() - t0).toFixed(0),
  "ms",
);

// The provider simulator as a process, with the options `sim/main.ts` has no flags for:
//   node scripts/lib/sim-main.ts --port N [--host H] [--stream-delay-ms N] [--max-recorded N]
// Used by startSim({ ... }) when options are given (scripts/load.ts keeps few recordings per namespace so
// that a long run does not grow the simulator's memory).
import { parseArgs } from "node:util";
import { startSimulator } from "../../sim/server.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    "stream-delay-ms": { type: "string" },
    "max-recorded": { type: "string" },
  },
});

const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const running = await startSimulator({
  port: Number(values.port),
  host: values.host,
  streamDelayMs: num(values["stream-delay-ms"]),
  maxRecordedRequests: num(values["max-recorded"]),
});
console.log(JSON.stringify({ level: "info", msg: "provider simulator listening", url: running.url }));
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    running.close().finally(() => process.exit(0));
  });
}

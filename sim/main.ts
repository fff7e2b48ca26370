// CLI: `node sim/main.ts [--port 8788] [--host 127.0.0.1] [--ttl-seconds N] [--stream-delay-ms N] [--first-token-ms N] [--seed S]`.
// Prints one JSON log line with the URL, then serves until SIGINT/SIGTERM.
import { parseArgs } from "node:util";
import { startSimulator } from "./server.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8788" },
    host: { type: "string", default: "127.0.0.1" },
    "ttl-seconds": { type: "string" },
    "stream-delay-ms": { type: "string" },
    "first-token-ms": { type: "string" },
    seed: { type: "string" },
  },
});

function numberArg(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    console.error(
      JSON.stringify({ level: "error", msg: `--${name} must be a non-negative number`, value: v }),
    );
    process.exit(2);
  }
  return n;
}

const running = await startSimulator({
  port: numberArg("port", values.port) ?? 8788,
  host: values.host ?? "127.0.0.1",
  ttlSeconds: numberArg("ttl-seconds", values["ttl-seconds"]),
  streamDelayMs: numberArg("stream-delay-ms", values["stream-delay-ms"]),
  firstTokenMs: numberArg("first-token-ms", values["first-token-ms"]),
  seed: values.seed,
});
console.log(
  JSON.stringify({
    level: "info",
    msg: "provider simulator listening",
    url: running.url,
    port: running.port,
  }),
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    running.close().finally(() => process.exit(0));
  });
}

// CLI: `node sim/gpu/main.ts [--backends 3] [--port 8800] [--kv-tokens N] [--prefill-tps N] [--decode-tps N]`.
// Starts N simulated vLLM backends on consecutive ports and prints a GPU_POOLS value for them.
import { parseArgs } from "node:util";
import { type RunningGpuBackend, startGpuBackend } from "./server.ts";

const { values } = parseArgs({
  options: {
    backends: { type: "string", default: "3" },
    port: { type: "string", default: "8800" },
    host: { type: "string", default: "127.0.0.1" },
    "kv-tokens": { type: "string" },
    "prefill-tps": { type: "string" },
    "decode-tps": { type: "string" },
  },
});

const n = Number(values.backends);
const base = Number(values.port);
const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const running: RunningGpuBackend[] = [];
for (let i = 0; i < n; i++) {
  running.push(
    await startGpuBackend({
      name: `gpu${i}`,
      port: base === 0 ? 0 : base + i,
      host: values.host,
      capacityTokens: num(values["kv-tokens"]),
      prefillTokensPerS: num(values["prefill-tps"]),
      decodeTokensPerS: num(values["decode-tps"]),
    }),
  );
}
const pools = {
  local: {
    backends: running.map((r) => ({ url: r.url, kv_cache_tokens: num(values["kv-tokens"]) ?? 200_000 })),
  },
};
console.log(
  JSON.stringify({ level: "info", msg: "GPU backends listening", urls: running.map((r) => r.url) }),
);
console.log(`GPU_POOLS='${JSON.stringify(pools)}'`);
const stop = async () => {
  await Promise.all(running.map((r) => r.close()));
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

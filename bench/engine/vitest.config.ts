import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { onEngineLog } from "./report.ts";

// The engine is pure: it runs in workerd without the Worker entry, the simulator or bindings.
// `npx vitest run --config bench/engine/vitest.config.ts` runs the benchmark and writes bench/report/engine.md
// (with ENGINE_TESTS=1 it runs the pure parts' tests, test/{canonicalize,prefix,plan,economics}, instead, and writes nothing).
export default defineConfig({
  plugins: [
    cloudflareTest({
      miniflare: { compatibilityDate: "2026-11-01", compatibilityFlags: ["nodejs_compat"] },
    }),
  ],
  test: {
    include: process.env.ENGINE_TESTS
      ? ["test/{canonicalize,prefix,plan,economics}/**/*.test.ts"]
      : ["bench/engine/**/*.bench.test.ts"],
    testTimeout: 600_000,
    // The benchmarks time CPU: one file at a time, so that they do not share the cores with each other.
    fileParallelism: Boolean(process.env.ENGINE_TESTS),
    onConsoleLog: (log) => {
      if (!process.env.ENGINE_TESTS) onEngineLog(log);
    },
  },
});

import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Probes that print what they measure and write no report: `npx vitest run --config bench/engine/probe.config.ts`.
export default defineConfig({
  plugins: [
    cloudflareTest({
      miniflare: { compatibilityDate: "2026-11-01", compatibilityFlags: ["nodejs_compat"] },
    }),
  ],
  test: { include: ["bench/engine/**/*.probe.test.ts"], testTimeout: 600_000, fileParallelism: false },
});

import { readFileSync } from "node:fs";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { compatUpstreamsJson } from "./test/support/compat.ts";
import { gpuPoolsJson } from "./test/support/gpu-pools.ts";
import {
  ADMIN_TOKEN,
  AWS_TEST_CREDENTIALS,
  modelPricesJson,
  tenantsJson,
  UPSTREAM_KEYS,
} from "./test/support/tenants.ts";

/** What wrangler's Text rules (wrangler.toml [[rules]] and its defaults) do in the bundle, for the tests. */
const TEXT_MODULES = /(\/dashboard\/browser\/[^/]+\.js|uPlot\.iife\.min\.js|uPlot\.min\.css|\.html|\.txt)$/;
const textModules = {
  name: "stoker-text-modules",
  enforce: "pre" as const,
  load(id: string) {
    const file = id.split("?")[0] ?? id;
    if (!TEXT_MODULES.test(file)) return null;
    return `export default ${JSON.stringify(readFileSync(file, "utf8"))};`;
  },
};

export default defineConfig({
  plugins: [
    textModules,
    cloudflareTest(({ inject }) => {
      const simUrl = inject("simUrl");
      const gpuSim = inject("gpuSim");
      return {
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            ANTHROPIC_UPSTREAM_URL: `${simUrl}/anthropic`,
            OPENAI_UPSTREAM_URL: `${simUrl}/openai`,
            GEMINI_UPSTREAM_URL: `${simUrl}/gemini`,
            ANTHROPIC_API_KEY: UPSTREAM_KEYS.anthropic,
            OPENAI_API_KEY: UPSTREAM_KEYS.openai,
            GEMINI_API_KEY: UPSTREAM_KEYS.gemini,
            BEDROCK_UPSTREAM_URL: `${simUrl}/bedrock`,
            AWS_ACCESS_KEY_ID: AWS_TEST_CREDENTIALS.accessKeyId,
            AWS_SECRET_ACCESS_KEY: AWS_TEST_CREDENTIALS.secretAccessKey,
            STOKER_SIMULATOR: "1",
            DEV_CLOCK: "1",
            TENANTS: tenantsJson(),
            SIM_URL: simUrl,
            LOG_LEVEL: "warn",
            MAX_BODY_BYTES: String(4 * 1024 * 1024),
            UPSTREAM_TIMEOUT_MS: "2000",
            TRACKER_DEADLINE_MS: "2000",
            ADMIN_TOKEN: ADMIN_TOKEN,
            GPU_POOLS: gpuPoolsJson(gpuSim),
            GPU_SIM: JSON.stringify(gpuSim),
            MODEL_PRICES: modelPricesJson(),
            COMPAT_UPSTREAMS: compatUpstreamsJson(simUrl),
          },
        },
      };
    }),
  ],
  test: {
    include: ["test/**/*.test.ts"],
    // A test file's first request starts its runtime and the simulator's namespaces: seconds on a busy
    // 2-core machine. Assertions decide; this only keeps a slow start from reading as a failure.
    testTimeout: 30_000,
    globalSetup: ["./test/global-setup.ts"],
  },
});

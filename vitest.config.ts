import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { ADMIN_TOKEN, tenantsJson, UPSTREAM_KEYS } from "./test/support/tenants.ts";

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => {
      const simUrl = inject("simUrl");
      return {
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            ANTHROPIC_UPSTREAM_URL: `${simUrl}/anthropic`,
            OPENAI_UPSTREAM_URL: `${simUrl}/openai`,
            ANTHROPIC_API_KEY: UPSTREAM_KEYS.anthropic,
            OPENAI_API_KEY: UPSTREAM_KEYS.openai,
            STOKER_SIMULATOR: "1",
            TENANTS: tenantsJson(),
            SIM_URL: simUrl,
            LOG_LEVEL: "warn",
            MAX_BODY_BYTES: String(4 * 1024 * 1024),
            UPSTREAM_TIMEOUT_MS: "2000",
            TRACKER_DEADLINE_MS: "2000",
            ADMIN_TOKEN: ADMIN_TOKEN,
          },
        },
      };
    }),
  ],
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["./test/global-setup.ts"],
  },
});

// The project's vitest config plus what `npm run fuzz` (scripts/fuzz.ts) hands the fuzz test through
// vitest's provide/inject: how many cases to run and the seed. Without this config the test runs its fixed
// CI slice.
import { defineConfig, mergeConfig } from "vitest/config";
import base from "../../vitest.config.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** Cases for test/hardening/fuzz.test.ts (its CI slice runs 300 when not provided). */
    fuzzRuns?: number;
    /** Its seed (CI's is fixed). */
    fuzzSeed?: number;
  }
}

const runs = Number(process.env.FUZZ_RUNS ?? 10_000);
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);

export default mergeConfig(
  base,
  defineConfig({
    test: {
      provide: { fuzzRuns: runs, fuzzSeed: seed },
    },
  }),
);

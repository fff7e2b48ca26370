/**
 * The GPU pools of the test worker (its GPU_POOLS binding, built in vitest.config.ts from the simulated
 * backends test/global-setup.ts starts). Each test file has pools of its own: a pool's router state is one
 * Durable Object, and files run in parallel.
 */
export interface GpuSimUrls {
  /** Backends gpu0..gpu2 accept cache_salt; gpu3 rejects it. */
  backends: string[];
  /** A port nothing listens on. */
  dead: string;
}

/** KV cache of the keepalive pool's backends in the pool config (the simulated ones hold more). */
export const KA_KV_TOKENS = 20_000;

export function gpuPoolsJson(urls: GpuSimUrls): string {
  const [b0, b1, b2, b3] = urls.backends as [string, string, string, string];
  const three = [{ url: b0 }, { url: b1 }, { url: b2 }];
  return JSON.stringify({
    sticky: { backends: three },
    // The hardening harnesses' GPU routes (test/support/routes.ts).
    harness: { backends: three },
    stream: { backends: three },
    salt: { backends: three },
    burst: { backends: three, epsilon: 0.5 },
    // The dead backend weighs most, so a new prompt tries it first (ties go to the lowest load per weight).
    flaky: { backends: [{ url: urls.dead, weight: 10 }, { url: b1 }, { url: b2 }] },
    fault: { backends: [{ url: b0 }, { url: b1 }] },
    nosalt: { backends: [{ url: b3, cache_salt: false }] },
    keyed: { backends: [{ url: `${b0}/v1/`, key: "sk-gpu-backend-key" }] },
    accounting: {
      backends: three,
      usd_per_gpu_hour: 3.6,
      prefill_tokens_per_s: 1000,
      decode_tokens_per_s: 100,
    },
    ka: {
      backends: [
        { url: b0, kv_cache_tokens: KA_KV_TOKENS },
        { url: b1, kv_cache_tokens: KA_KV_TOKENS },
      ],
      keepalive: true,
      prefill_tokens_per_s: 1000,
      index_ttl_s: 3600,
    },
  });
}

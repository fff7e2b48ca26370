import { describe, expect, it } from "vitest";
import { gpuPost, prose } from "../support/gpu.ts";
import { freshTenant } from "../support/tenants.ts";
import { totalsAfter, tracker } from "../support/tracker.ts";

describe("GPU accounting", () => {
  it("records GPU requests in the tenant's tracker, priced in GPU-seconds at the pool's rate", async () => {
    const t = freshTenant();
    const content = prose(500, crypto.randomUUID());
    const send = () =>
      gpuPost("accounting", "chat/completions", t.key, {
        model: "llama-3.1-8b",
        max_tokens: 4,
        messages: [{ role: "user", content }],
      }).then(
        (r) =>
          r.json() as Promise<{
            usage: {
              prompt_tokens: number;
              completion_tokens: number;
              prompt_tokens_details: { cached_tokens: number };
            };
          }>,
      );
    const first = await send();
    const second = await send();
    const totals = await totalsAfter(t.id, 2);
    expect(totals.requests).toBe(2);
    const u = [first.usage, second.usage] as const;
    expect(totals.inputTokens).toBe(u[0].prompt_tokens + u[1].prompt_tokens);
    expect(totals.cacheReadTokens).toBe(u[1].prompt_tokens_details.cached_tokens);
    expect(totals.cacheReadTokens).toBeGreaterThan(0);
    // The "accounting" pool: $3.60 per GPU-hour, 1,000 prefill and 100 decode tokens per second.
    const seconds = (x: (typeof u)[0], cached: boolean) =>
      (x.prompt_tokens - (cached ? x.prompt_tokens_details.cached_tokens : 0)) / 1000 +
      x.completion_tokens / 100;
    expect(totals.costUsd).toBeCloseTo((seconds(u[0], true) + seconds(u[1], true)) * 0.001, 9);
    expect(totals.costWithoutCacheUsd).toBeCloseTo((seconds(u[0], false) + seconds(u[1], false)) * 0.001, 9);
    expect(totals.costUsd).toBeLessThan(totals.costWithoutCacheUsd);
  });

  it("rejects a record with an upstream that is neither a provider nor a GPU pool", async () => {
    const answer = await tracker(freshTenant().id).record({ upstream: "gpu:" } as never);
    expect(answer.ok).toBe(false);
  });
});

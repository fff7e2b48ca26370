import { describe, expect, it } from "vitest";
import { gpuPost, prose, snapshot } from "../support/gpu.ts";
import { freshTenant } from "../support/tenants.ts";

const MODEL = "llama-3.1-8b";
const BURST = 12;
const EPSILON = 0.5; // the "burst" pool's (test/support/gpu-pools.ts)

describe("GPU bounded load under a burst", () => {
  it("spreads a burst of one prefix without putting any backend above ceil((1 + ε) · mean) in flight", async () => {
    const tenant = freshTenant();
    const head = `${crypto.randomUUID()} ${prose(1000, "shared")}`;
    // Warm one backend with the shared prefix, so that every request of the burst prefers it.
    const warm = await gpuPost("burst", "chat/completions", tenant.key, {
      model: MODEL,
      max_tokens: 2,
      messages: [
        { role: "system", content: head },
        { role: "user", content: "warm up" },
      ],
    });
    const holder = warm.headers.get("x-stoker-backend");
    await warm.arrayBuffer();
    await expect.poll(async () => (await snapshot("burst")).map((b) => b.inflight)).toEqual([0, 0, 0]);
    // Each answer is held back 400 ms by the simulated backend, so all requests are in flight together.
    const answers = await Promise.all(
      Array.from({ length: BURST }, (_, i) =>
        gpuPost(
          "burst",
          "chat/completions",
          tenant.key,
          {
            model: MODEL,
            max_tokens: 2,
            messages: [
              { role: "system", content: head },
              { role: "user", content: `q${i}` },
            ],
          },
          { "x-sim-gpu-delay-ms": "400" },
        ),
      ),
    );
    const perBackend = new Map<string, number>();
    for (const a of answers) {
      expect(a.status).toBe(200);
      await a.arrayBuffer();
      const b = a.headers.get("x-stoker-backend") ?? "?";
      perBackend.set(b, (perBackend.get(b) ?? 0) + 1);
    }
    const counts = [...perBackend.values()];
    expect(Math.max(...counts)).toBeLessThanOrEqual(Math.ceil((1 + EPSILON) * (BURST / 3)));
    expect(perBackend.size).toBeGreaterThan(1);
    // The backend holding the prefix took the most requests: the load bound, not the cache, moved the others.
    expect(perBackend.get(holder ?? "")).toBe(Math.max(...counts));
    // Every lease ended once its response was done.
    await expect.poll(async () => (await snapshot("burst")).map((b) => b.inflight)).toEqual([0, 0, 0]);
  });
});

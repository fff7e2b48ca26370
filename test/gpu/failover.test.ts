import { describe, expect, it } from "vitest";
import { backendFault, backendRequests, gpuPost, gpuSim, prose, snapshot } from "../support/gpu.ts";
import { freshTenant } from "../support/tenants.ts";

const MODEL = "llama-3.1-8b";

describe("GPU failover", () => {
  it("routes around a dead backend: retries once on another before any byte reached the client, then skips it", async () => {
    const tenant = freshTenant();
    // The first request tries the dead backend (0, the heaviest: test/support/gpu-pools.ts) and is retried elsewhere.
    const answers = [];
    for (let i = 0; i < 4; i++) {
      const res = await gpuPost("flaky", "chat/completions", tenant.key, {
        model: MODEL,
        max_tokens: 2,
        messages: [{ role: "user", content: prose(200, crypto.randomUUID()) }],
      });
      answers.push({
        status: res.status,
        backend: res.headers.get("x-stoker-backend"),
        body: await res.json(),
      });
    }
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.backend).not.toBe("0");
    }
    const [dead] = await snapshot("flaky");
    expect(dead).toMatchObject({ healthy: false, inflight: 0 });
    expect(dead?.failures).toBeGreaterThanOrEqual(1);
  });

  it("retries a 503 on the other backend, and passes the upstream error through when both fail", async () => {
    const tenant = freshTenant();
    const marker = crypto.randomUUID();
    const messages = [
      { role: "system", content: `${marker} ${prose(600, "f")}` },
      { role: "user", content: "one" },
    ];
    const first = await gpuPost("fault", "chat/completions", tenant.key, {
      model: MODEL,
      max_tokens: 2,
      messages,
    });
    const holder = Number(first.headers.get("x-stoker-backend"));
    const urls = gpuSim().backends.slice(0, 2);
    await backendFault(urls[holder] as string, { status: 503, contains: marker });
    const second = await gpuPost("fault", "chat/completions", tenant.key, {
      model: MODEL,
      max_tokens: 2,
      messages: [...messages, { role: "assistant", content: "ok" }, { role: "user", content: "two" }],
    });
    expect(second.status).toBe(200);
    expect(Number(second.headers.get("x-stoker-backend"))).toBe(1 - holder);
    expect((await backendRequests(urls[holder] as string, marker)).map((r) => r.status)).toEqual([200, 503]);

    await backendFault(urls[0] as string, { status: 503, contains: `${marker}-both` });
    await backendFault(urls[1] as string, { status: 503, contains: `${marker}-both` });
    const both = await gpuPost("fault", "chat/completions", tenant.key, {
      model: MODEL,
      messages: [{ role: "user", content: `${marker}-both` }],
    });
    expect(both.status).toBe(503);
    expect(await both.json()).toMatchObject({ error: { message: "simulated fault 503" } });
  });
});

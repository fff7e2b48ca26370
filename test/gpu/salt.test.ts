import { describe, expect, it } from "vitest";
import { backendRequests, gpuPost, gpuSim, prose } from "../support/gpu.ts";
import { freshTenant } from "../support/tenants.ts";

const MODEL = "llama-3.1-8b";

async function sentBodies(marker: string, urls = gpuSim().backends.slice(0, 3)) {
  const all = (await Promise.all(urls.map((u) => backendRequests(u, marker)))).flat();
  return all.sort((a, b) => a.at - b.at).map((r) => ({ body: JSON.parse(r.body), cached: r.cached_tokens }));
}

describe("GPU tenant isolation with cache_salt", () => {
  it("gives each tenant a salt of its own, stable across requests, so tenants never share cached blocks", async () => {
    const a = freshTenant();
    const b = freshTenant();
    const marker = crypto.randomUUID();
    const prompt = {
      model: MODEL,
      max_tokens: 2,
      messages: [{ role: "user", content: `${marker} ${prose(600, "same")}` }],
    };
    for (const t of [a, a, b, b]) {
      const res = await gpuPost("salt", "chat/completions", t.key, prompt);
      expect(res.status).toBe(200);
    }
    const sent = await sentBodies(marker);
    expect(sent).toHaveLength(4);
    const salts = sent.map((s) => s.body.cache_salt as string);
    expect(salts[0]).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(salts[1]).toBe(salts[0]);
    expect(salts[3]).toBe(salts[2]);
    expect(salts[2]).not.toBe(salts[0]);
    // Tenant b's first request found nothing of tenant a's identical prompt; its second found its own.
    expect(sent.map((s) => s.cached > 0)).toEqual([false, true, false, true]);
  });

  it("mixes a client's own cache_salt in rather than sending it, so a tenant cannot pick another's salt", async () => {
    const t = freshTenant();
    const marker = crypto.randomUUID();
    const body = (salt?: string) => ({
      model: MODEL,
      max_tokens: 2,
      messages: [{ role: "user", content: `${marker} ${prose(100, "c")}` }],
      ...(salt ? { cache_salt: salt } : {}),
    });
    await gpuPost("salt", "chat/completions", t.key, body());
    await gpuPost("salt", "chat/completions", t.key, body("end-user-1"));
    await gpuPost("salt", "chat/completions", t.key, body("end-user-1"));
    await gpuPost("salt", "chat/completions", t.key, body("end-user-2"));
    const salts = (await sentBodies(marker)).map((s) => s.body.cache_salt as string);
    expect(salts).toHaveLength(4);
    expect(salts).not.toContain("end-user-1");
    expect(salts[2]).toBe(salts[1]);
    expect(new Set([salts[0], salts[1], salts[3]]).size).toBe(3);
  });

  it("omits cache_salt for a backend the pool says rejects it", async () => {
    const t = freshTenant();
    const marker = crypto.randomUUID();
    const res = await gpuPost("nosalt", "chat/completions", t.key, {
      model: MODEL,
      messages: [{ role: "user", content: marker }],
      cache_salt: "mine",
    });
    expect(res.status).toBe(200);
    const [sent] = await sentBodies(marker, [gpuSim().backends[3] as string]);
    expect(sent?.body).not.toHaveProperty("cache_salt");
  });

  it("sends the pool's backend key for managed tenants, never the tenant key", async () => {
    const t = freshTenant();
    const marker = crypto.randomUUID();
    const res = await gpuPost("keyed", "completions", t.key, { model: MODEL, prompt: marker });
    expect(res.status).toBe(200);
    const [req] = await backendRequests(gpuSim().backends[0] as string, marker);
    expect(req?.path).toBe("/v1/completions");
    expect(req?.headers.authorization).toBe("Bearer sk-gpu-backend-key");
    expect(JSON.stringify(req?.headers)).not.toContain(t.key);
  });
});

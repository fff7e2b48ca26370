import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { directory } from "../../src/tenants/directory.ts";
import { anthropic, namespace, STOKER, workerFetch } from "../support/clients.ts";
import { freshTenant } from "../support/tenants.ts";
import { totalsAfter, tracker } from "../support/tracker.ts";

// `npm run chaos` resets Durable Objects through `POST /__dev/abort` (ctx.abort()). Only STOKER_LOCAL_DEV
// (npm start, the chaos run) opens it; the test worker, like a deploy, does not set it.
describe("the chaos run's restart hook is closed outside local development", () => {
  it("the route is a 404 and the objects' chaosAbort does nothing", async () => {
    expect((env as unknown as Record<string, unknown>).STOKER_LOCAL_DEV).toBeUndefined();
    for (const q of ["object=directory", "object=tracker&tenant=alpha"]) {
      const res = await workerFetch(`${STOKER}/__dev/abort?${q}`, { method: "POST" });
      expect(res.status).toBe(404);
    }
    const t = freshTenant();
    await anthropic(namespace(), { apiKey: t.key }).messages.create({
      model: "claude-sonnet-4-6",
      max_tokens: 8,
      messages: [{ role: "user", content: "hi" }],
    });
    await totalsAfter(t.id, 1);
    expect(await tracker(t.id).chaosAbort()).toBe(false);
    expect(await directory(env).chaosAbort()).toBe(false);
    expect(((await tracker(t.id).totals()) as { requests: number }).requests).toBe(1);
  });
});

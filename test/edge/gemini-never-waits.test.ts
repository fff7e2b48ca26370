// A managed Gemini request never waits on the tenant's tracker for its explicit caches (issue 16): it is
// planned from the caches the isolate holds, and the tracker is asked after the response.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { longText, namespace, simRequests } from "../support/clients.ts";
import { ask, askApart, cacheCreation, DOC, MINUTE, settle } from "../support/gemini-explicit.ts";
import { freshTenant } from "../support/tenants.ts";
import { totalsAfter, tracker } from "../support/tracker.ts";

const TRACKER_DEADLINE_MS = 2000; // vitest.config.ts: what a Gemini request used to wait for its caches at most

/** Closes the tenant's tracker to every call for `ms` (its input gate): it answers nothing meanwhile. */
function silence(tenantId: string, ms: number): Promise<void> {
  return runInDurableObject(tracker(tenantId), (_i, state) =>
    state.blockConcurrencyWhile(() => new Promise<void>((r) => setTimeout(r, ms))),
  );
}

describe("a Gemini request with a tracker that never answers", () => {
  it("completes without waiting, served by the explicit cache the isolate holds", async () => {
    const t = freshTenant();
    const ns = namespace();
    // As in test/e2e/gemini-explicit.test.ts: the third request, six minutes after the second, creates a cache.
    await askApart(t.key, ns, ["One?", "Two?", "Two, again?"], 6 * MINUTE);
    await cacheCreation(ns);
    await settle();

    const held = silence(t.id, 6000);
    const times: number[] = [];
    const cached: number[] = [];
    // The cached prefix, then a document the tenant never sent (nothing held: no cache, no wait either).
    for (const [q, doc] of [
      ["Three?", DOC],
      ["Four?", longText(2500, "appendix")],
    ] as const) {
      const started = Date.now();
      const answer = await ask(t.key, ns, q, doc);
      times.push(Date.now() - started);
      cached.push(answer.usageMetadata?.cachedContentTokenCount ?? 0);
    }
    // A request that waited for the tracker would take its deadline (2 s here) at least.
    for (const ms of times) expect(ms).toBeLessThan(TRACKER_DEADLINE_MS);
    const sent = (await simRequests(ns)).filter((r) => r.path.endsWith(":generateContent")).slice(-2);
    const [withCache, without] = sent.map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(typeof withCache?.cachedContent).toBe("string");
    expect(cached[0]).toBeGreaterThan(6000);
    expect(without?.cachedContent).toBeUndefined();
    expect(cached[1]).toBe(0);
    await held;
    // Nothing is lost: the tracker has every row once it answers again (five requests and the cache's creation).
    expect((await totalsAfter(t.id, 6)).requests).toBe(6);
  }, 30_000);
});

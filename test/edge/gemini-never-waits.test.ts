// A managed Gemini request never waits on the tenant's tracker for its explicit caches (issue 16): it is
// planned from the caches the isolate holds, and the tracker is asked after the response.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { gemini, longText, namespace, STOKER, simRequests, workerFetch } from "../support/clients.ts";
import { freshTenant } from "../support/tenants.ts";
import { totalsAfter, tracker } from "../support/tracker.ts";

const MODEL = "gemini-3-pro";
const DOC = longText(2500, "chapter");
const MINUTE = 60_000;
const TRACKER_DEADLINE_MS = 2000; // vitest.config.ts: what a Gemini request used to wait for its caches at most

/** Closes the tenant's tracker to every call for `ms` (its input gate): it answers nothing meanwhile. */
function silence(tenantId: string, ms: number): Promise<void> {
  return runInDurableObject(tracker(tenantId), (_i, state) =>
    state.blockConcurrencyWhile(() => new Promise<void>((r) => setTimeout(r, ms))),
  );
}

async function advance(ms: number): Promise<void> {
  const res = await workerFetch(`${STOKER}/__dev/clock`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ advance_ms: ms }),
  });
  expect(res.status).toBe(200);
}

function ask(key: string, ns: string, question: string, doc = DOC) {
  return gemini(ns, { apiKey: key }).models.generateContent({
    model: MODEL,
    contents: [
      { role: "user", parts: [{ text: doc }] },
      { role: "model", parts: [{ text: "I have read the document." }] },
      { role: "user", parts: [{ text: question }] },
    ],
    config: { systemInstruction: "Answer from the document only." },
  });
}

const settle = () => new Promise((r) => setTimeout(r, 300));

async function until<T>(what: string, f: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never: ${what}`);
}

describe("a Gemini request with a tracker that never answers", () => {
  it("completes without waiting, served by the explicit cache the isolate holds", async () => {
    const t = freshTenant();
    const ns = namespace();
    // As in test/e2e/gemini-explicit.test.ts: the third request, six minutes after the second, creates a cache.
    for (const q of ["One?", "Two?", "Two, again?"]) {
      await ask(t.key, ns, q);
      await settle();
      await advance(6 * MINUTE);
    }
    await until("a cache is created", async () =>
      (await simRequests(ns)).find((r) => r.path === "/gemini/v1beta/cachedContents"),
    );
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

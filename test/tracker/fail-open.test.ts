import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { anthropic, namespace } from "../support/clients.ts";
import { freshTenant } from "../support/tenants.ts";
import { totalsAfter, tracker } from "../support/tracker.ts";

describe("a tracker that hangs never holds up or fails a request", () => {
  it("plans without it at once (no wait for the lookup), serves the answer, and records once it is back", async () => {
    const t = freshTenant();
    const stub = tracker(t.id);
    await stub.totals(); // wake it
    // Close the tracker's input gate for longer than TRACKER_DEADLINE_MS (2 s in the test config).
    const held = runInDurableObject(stub, (_instance, state) =>
      state.blockConcurrencyWhile(() => new Promise<void>((r) => setTimeout(r, 3000))),
    );
    const started = Date.now();
    const reply = await anthropic(namespace(), { apiKey: t.key }).messages.create({
      model: "claude-sonnet-4-6",
      max_tokens: 16,
      messages: [{ role: "user", content: "Are you there?" }],
    });
    const waited = Date.now() - started;
    expect(reply.content[0]?.type).toBe("text");
    // The request path never waits for the tracker (issue 19): not for its deadline (2 s here, which the
    // request used to wait out), nor for it to come back. The lookup runs in parallel, under waitUntil.
    expect(waited).toBeLessThan(1500);
    await held;
    expect((await totalsAfter(t.id, 1)).requests).toBe(1);
  }, 15_000);
});

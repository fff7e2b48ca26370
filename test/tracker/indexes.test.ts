import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { REVIEWABLE_SQL } from "../../src/tracker/gemini-caches.ts";
import type { Tracker } from "../../src/tracker/tracker.ts";
import { tracker } from "../support/tracker.ts";

// Reads that run on every record must not sort or scan a table that grows to its cap (storage.md).
describe("the tracker's per-record reads use an index", () => {
  it("the Gemini review reads the live caches in expiry order from an index, not by sorting the table", async () => {
    const plan = await runInDurableObject(tracker(crypto.randomUUID()), (_obj: Tracker, state) =>
      state.storage.sql
        .exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${REVIEWABLE_SQL}`, 0, 50)
        .toArray()
        .map((r) => r.detail)
        .join("\n"),
    );
    expect(plan).toMatch(/gemini_caches_expire/);
    expect(plan).not.toMatch(/TEMP B-TREE FOR ORDER BY/);
  });
});

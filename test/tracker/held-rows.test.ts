import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { emptyFamily } from "../../src/decide/gaps.ts";
import { type ChainSummary, SHAPE_BASE } from "../../src/prefix/diff.ts";
import { SqlConversationStore } from "../../src/tracker/conversations.ts";
import { countRequest, rateAt } from "../../src/tracker/plan-inputs.ts";
import type { RecordRequest } from "../../src/tracker/types.ts";
import { recordRequest } from "../support/records.ts";
import { freshTenant } from "../support/tenants.ts";
import { tracker } from "../support/tracker.ts";

// What the Tracker keeps in memory of its own rows (conversations' rows set aside over a record's await, the
// families' rates and models' calibrations across records) must never outlive a write it did not see or a
// rolled-back transaction.

const NOW = Date.now();
const FAMILY = "family-held-rowsaaaa";
const MODEL = "claude-sonnet-4-6";

function record(tenantId: string, i: number, over: Partial<RecordRequest> = {}): RecordRequest {
  return recordRequest({
    tenantId,
    requestId: `req_held_${tenantId}_${i}`,
    at: NOW + i * 1000,
    family: FAMILY,
    model: MODEL,
    conversation: `conversation-held-${i}`,
    estimatedTokens: 1000,
    positions: [{ hash: `position-held-${i}-aaaa`, tokens: 1000, breakpoint: null }],
    ...over,
  });
}

describe("rows a record set aside over an await", () => {
  it("are held again only if no write came meanwhile", async () => {
    const t = freshTenant();
    await runInDurableObject(tracker(t.id), (_i, state) => {
      const store = new SqlConversationStore(state.storage.sql);
      // Nothing written meanwhile: what was read is what the table holds.
      store.hold();
      expect(store.get("conversation-a")).toBeUndefined();
      store.hold(store.setAside());
      expect(store.get("conversation-a")).toBeUndefined();
      store.release();
      // A conversation stored meanwhile (another record of it ran during the await) is read again.
      store.hold();
      expect(store.get("conversation-a")).toBeUndefined();
      const absent = store.setAside();
      store.insert("conversation-a", FAMILY, NOW, [], null);
      store.hold(absent);
      expect(store.get("conversation-a")).toMatchObject({ turns: 1, lastAt: NOW });
      const once = store.setAside();
      store.update("conversation-a", NOW + 1000, [], [], "reply");
      store.hold(once);
      expect(store.get("conversation-a")).toMatchObject({ turns: 2, lastAt: NOW + 1000, answer: "reply" });
      // A family's table saved meanwhile, and a rollback (`forget`), likewise.
      const table = emptyFamily();
      table.returns[0] = 7;
      expect(store.family(FAMILY).returns[0]).toBe(0);
      const unsaved = store.setAside();
      store.saveFamilies(new Map([[FAMILY, table]]), NOW);
      store.hold(unsaved);
      expect(store.family(FAMILY).returns[0]).toBe(7);
      expect(store.get("conversation-a")).toMatchObject({ turns: 2 });
      const kept = store.setAside();
      state.storage.sql.exec("DELETE FROM conversations");
      store.forget();
      store.hold(kept);
      expect(store.get("conversation-a")).toBeUndefined();
      store.release();
    });
  });
});

/** The chain a record keeps (`recent_chains`): four segments, two of them hashed. */
const CHAIN: ChainSummary = {
  h0: "h0-held-rows",
  family: FAMILY,
  layout: String.fromCharCode(SHAPE_BASE, SHAPE_BASE, SHAPE_BASE + 1, SHAPE_BASE + 1),
  shapes: ["system text", "message text"],
  messages: [-1, -1, 0, 1],
  hashed: [0, 2],
  hashes: ["seg-0-held", "seg-2-held"],
  volatile: [],
};

describe("families' survival tables kept in memory", () => {
  it("are read again after a record's transaction rolls back", async () => {
    // Two tenants take the same first request; the second's return fails in one, after its family tables
    // were written (the chain is kept last), and is never sent in the other: both must answer alike.
    const [failing, untouched] = [freshTenant(), freshTenant()];
    const same = (tenantId: string, i: number) =>
      record(tenantId, i, { conversation: "conversation-held-rollback", chain: CHAIN });
    for (const t of [failing, untouched]) await tracker(t.id).record(same(t.id, 0));
    const stub = tracker(failing.id);
    await runInDurableObject(stub, (_i, state) => {
      state.storage.sql.exec(
        "CREATE TRIGGER refuse_chains BEFORE INSERT ON recent_chains BEGIN SELECT RAISE(ABORT, 'refused'); END",
      );
    });
    expect(await stub.recordMany([same(failing.id, 1)])).toMatchObject([{ ok: false, retry: true }]);
    await runInDurableObject(stub, (_i, state) => {
      state.storage.sql.exec("DROP TRIGGER refuse_chains");
    });
    const scope = { family: FAMILY, model: MODEL, conversation: "conversation-held-rollback" };
    const [after, never] = await Promise.all(
      [failing, untouched].map((t) => tracker(t.id).lookup([], NOW + 5000, scope)),
    );
    expect(after).toEqual(never);
  }, 30_000); // the first call starts the object: seconds on a loaded machine
});

describe("returns deferred together", () => {
  it("are all stored, in as many statements as the bound values need", async () => {
    const t = freshTenant();
    await runInDurableObject(tracker(t.id), (_i, state) => {
      const store = new SqlConversationStore(state.storage.sql);
      const returns = Array.from({ length: 30 }, (_, k) => ({
        table: k < 2 ? "table-a" : "table-b",
        turns: 1 + (k % 3),
        window: k % 2,
        due: NOW + k,
      }));
      store.deferReturns(returns.slice(0, 2));
      store.deferReturns(returns.slice(2));
      expect(store.hasPendingReturn("table-a")).toBe(true);
      const due = store.takeDueReturns(NOW + 29);
      expect(due.reduce((n, d) => n + d.n, 0)).toBe(30);
      expect(
        due
          .filter((d) => d.table === "table-a")
          .map((d) => [d.turns, d.window, d.n])
          .sort(),
      ).toEqual([
        [1, 0, 1],
        [2, 1, 1],
      ]);
      expect(store.hasPendingReturn("table-b")).toBe(false);
    });
  });
});

describe("a family's rate and a model's calibration kept in memory", () => {
  it("are read again after a record's transaction rolls back", async () => {
    const t = freshTenant();
    const stub = tracker(t.id);
    const scope = { family: FAMILY, model: MODEL };
    await stub.record(record(t.id, 0));
    // A record that fails after it counted its request and its calibration: the update is rolled back.
    await runInDurableObject(stub, (_i, state) => {
      state.storage.sql.exec(
        "CREATE TRIGGER refuse_conversations BEFORE INSERT ON conversations BEGIN SELECT RAISE(ABORT, 'refused'); END",
      );
    });
    const usage = { ...record(t.id, 1).usage, inputTokens: 900, uncachedTokens: 900 };
    const failed = await stub.recordMany([record(t.id, 1, { usage } as Partial<RecordRequest>)]);
    expect(failed).toMatchObject([{ ok: false, retry: true }]);
    await runInDurableObject(stub, (_i, state) => {
      state.storage.sql.exec("DROP TRIGGER refuse_conversations");
    });
    const looked = await stub.lookup([], NOW + 1000, scope);
    if (!looked.ok) throw new Error("lookup refused");
    // The first record's alone: one request, and 500 tokens reported for 1000 estimated.
    expect(looked.value.familyRatePerMin).toBeCloseTo(rateAt(countRequest(undefined, NOW), NOW + 1000), 9);
    expect(looked.value.calibration?.ratio).toBeCloseTo(0.5, 9);
    expect(looked.value.calibration?.weight).toBe(1000);
    expect((await stub.totals()).requests).toBe(1);
  }, 30_000); // the first call starts the object: seconds on a loaded machine

  it("are gone with the tenant's rows", async () => {
    const t = freshTenant();
    const stub = tracker(t.id);
    const scope = { family: FAMILY, model: MODEL };
    await stub.record(record(t.id, 0));
    await stub.purge();
    const looked = await stub.lookup([], NOW + 1000, scope);
    expect(looked.ok && looked.value.familyRatePerMin).toBe(0);
    expect(looked.ok && looked.value.calibration).toBeUndefined();
  });
});

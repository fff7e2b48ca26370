import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { RecordRequest } from "../../src/tracker/types.ts";
import { recordRequest } from "../support/records.ts";
import { freshTenant } from "../support/tenants.ts";
import { tracker } from "../support/tracker.ts";

const NOW = Date.UTC(2026, 11, 1, 12);
const FAMILY = "family-diag-aaaaaaaa";
const MODEL = "claude-sonnet-4-6";

function record(tenantId: string, i: number, over: Partial<RecordRequest> = {}): RecordRequest {
  return recordRequest({
    tenantId,
    requestId: `req_diag_${tenantId}_${i}`,
    at: NOW + i * 1000,
    model: MODEL,
    family: FAMILY,
    conversation: "conversation-diag-aaaa",
    positions: [{ hash: `position-diag-${i}-aaaa`, tokens: 500, breakpoint: null }],
    ...over,
  });
}

const scope = (conversation?: string) => ({ family: FAMILY, model: MODEL, conversation });

describe("the tracker's last message ids and provider reasons", () => {
  it("answers the conversation's last id, else its upstream and model's, on lookup and record", async () => {
    const t = freshTenant();
    const stub = tracker(t.id);
    const first = await stub.record(record(t.id, 1, { messageId: "msg_01first" }));
    expect(first.ok && first.value.previousMessageId).toBe("msg_01first");
    await stub.record(record(t.id, 2, { messageId: "msg_01second" }));
    const hashes = ["position-diag-9-aaaa"];
    const same = await stub.lookup(hashes, NOW + 5000, scope("conversation-diag-aaaa"));
    expect(same.ok && same.value.previousMessageId).toBe("msg_01second");
    // A new conversation of the same model (e.g. its system prompt changed): the model's last answer.
    await stub.record(record(t.id, 3, { conversation: "conversation-other-a", messageId: "msg_01third" }));
    const fresh = await stub.lookup(hashes, NOW + 5000, scope("conversation-new-aaaa"));
    expect(fresh.ok && fresh.value.previousMessageId).toBe("msg_01third");
    const own = await stub.lookup(hashes, NOW + 5000, scope("conversation-diag-aaaa"));
    expect(own.ok && own.value.previousMessageId).toBe("msg_01second");
    // Without a conversation in the scope (older edges), nothing is named.
    const none = await stub.lookup(hashes, NOW + 5000, scope());
    expect(none.ok && "previousMessageId" in none.value).toBe(false);
    const other = await stub.lookup(hashes, NOW + 5000, {
      ...scope("conversation-new-aaaa"),
      model: "claude-x",
    });
    expect(other.ok && "previousMessageId" in other.value).toBe(false);
  });

  it("keeps the record when the upstream's id or reason is bad or oversized, and stores neither", async () => {
    const t = freshTenant();
    const stub = tracker(t.id);
    const bad = [
      { messageId: "m".repeat(5000), providerMiss: { reason: "<b>".repeat(100), missedTokens: 1 } },
      { messageId: 'msg_"; DROP TABLE', providerMiss: { reason: "system_changed", missedTokens: -5 } },
      { messageId: 42, providerMiss: "system_changed" },
    ] as unknown as Partial<RecordRequest>[];
    for (const [i, over] of bad.entries()) {
      const answer = await stub.record(record(t.id, i, over));
      expect(answer.ok && answer.value.counted).toBe(true);
      expect(answer.ok && "previousMessageId" in answer.value).toBe(false);
    }
    expect((await stub.totals()).requests).toBe(3);
    const rows = await runInDurableObject(stub, (_i, state) => ({
      ids: state.storage.sql.exec("SELECT COUNT(*) AS n FROM last_messages").one().n,
      reasons: state.storage.sql
        .exec("SELECT COUNT(*) AS n FROM requests WHERE miss_reason IS NOT NULL")
        .one().n,
    }));
    expect(rows).toEqual({ ids: 0, reasons: 0 });
    const lookup = await stub.lookup(["position-diag-0-aaaa"], NOW, scope("conversation-diag-aaaa"));
    expect(lookup.ok && "previousMessageId" in lookup.value).toBe(false);
  });

  it("keeps the provider's reason on the request row", async () => {
    const t = freshTenant();
    const stub = tracker(t.id);
    await stub.record(
      record(t.id, 1, { messageId: "msg_1", providerMiss: { reason: "tools_changed", missedTokens: 321 } }),
    );
    const row = await runInDurableObject(stub, (_i, state) =>
      state.storage.sql.exec("SELECT miss_reason, missed_tokens FROM requests").one(),
    );
    expect(row).toEqual({ miss_reason: "tools_changed", missed_tokens: 321 });
  });
});

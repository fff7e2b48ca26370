import { describe, expect, it } from "vitest";
import type { RecordRequest } from "../../src/tracker/types.ts";
import { keepaliveRows } from "../support/keepalive.ts";
import { recordRequest } from "../support/records.ts";
import { freshTenant } from "../support/tenants.ts";
import { tracker } from "../support/tracker.ts";

const FAMILY = "family-batchbatchbb";
const NOW = Date.now();

/** Turn `i` of one conversation on a 1h head: it reads what the turn before wrote and writes its own tail. */
function turn(tenantId: string, i: number): RecordRequest {
  const tail = (k: number) => ({
    hash: `batch-tail-${k}-aaaaaaa`,
    tokens: 3000 + 1000 * k,
    breakpoint: "5m" as const,
  });
  const head = { hash: "batch-head-aaaaaaaaaa", tokens: 2000, breakpoint: "1h" as const };
  const read = i === 0 ? 0 : 3000 + 1000 * (i - 1);
  const total = 3000 + 1000 * i;
  return recordRequest({
    tenantId,
    requestId: `req_batch_${i}`,
    at: NOW + i * 40_000,
    family: FAMILY,
    conversation: "batch-conversation-aa",
    estimatedTokens: total,
    positions: [head, tail(i)],
    usage: {
      inputTokens: total,
      uncachedTokens: 0,
      cacheReadTokens: read,
      cacheWrite5mTokens: total - read - (i === 0 ? 2000 : 0),
      cacheWrite1hTokens: i === 0 ? 2000 : 0,
      outputTokens: 5,
    },
    capture: {
      conversation: "batch-conversation-aa",
      hash: tail(i).hash,
      loc: { area: "messages", index: 2 * i },
      ttl: "5m",
      path: "/v1/messages",
      headers: [["anthropic-version", "2023-06-01"]],
      body: JSON.stringify({ model: "claude-sonnet-4-6", max_tokens: 16, turn: i }),
    },
  });
}

describe("records sent in one batch", () => {
  it("leave the tracker as the same records sent one at a time do, the batch's later turns' captures kept", async () => {
    const one = freshTenant();
    const many = freshTenant();
    const records = (tenantId: string) => [
      ...[0, 1, 2].map((i) => turn(tenantId, i)),
      // A malformed record in the middle is refused on its own; the others are taken.
      { ...turn(tenantId, 9), requestId: 42 } as unknown as RecordRequest,
      turn(tenantId, 3),
    ];
    const single: unknown[] = [];
    for (const r of records(one.id)) single.push(await tracker(one.id).record(r));
    const batched = await tracker(many.id).recordMany(records(many.id));

    expect(batched).toEqual(single);
    expect(batched.map((a) => a.ok)).toEqual([true, true, true, false, true]);
    const rows = await keepaliveRows(many.id);
    expect(rows).toEqual(await keepaliveRows(one.id));
    // The first turn of a family nothing has come back to is not captured (second sight); the second turn's
    // conversation exists only once the batch's first record is applied, and its capture is kept all the same.
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ conversation: "batch-conversation-aa", has_body: 1 });
    expect(await tracker(many.id).totals()).toEqual(await tracker(one.id).totals());

    // Sent again (an edge retrying a batch it heard no answer for): nothing counts twice.
    const again = await tracker(many.id).recordMany(records(many.id));
    expect(again.map((a) => a.ok && a.value.counted)).toEqual([false, false, false, false, false]);
    expect((await tracker(many.id).totals()).requests).toBe(4);
  });
});

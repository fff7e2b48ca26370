// Records are never lost (issue 19): a record the tenant's tracker does not take within the isolate's tries
// goes to the record queue (Cloudflare Queues, Miniflare's here), whose consumer delivers it until the tracker
// has it; the tracker counts a request id once.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Logger } from "../../src/core/log.ts";
import worker from "../../src/index.ts";
import { RECORD_ATTEMPTS, recordSafely } from "../../src/tracker/client.ts";
import { DELIVERY_ATTEMPTS, retryDelaySeconds } from "../../src/tracker/record-delivery.ts";
import { QUEUED_RECORD_BYTES, queuedRecord } from "../../src/tracker/record-queue.ts";
import type { RecordRequest } from "../../src/tracker/types.ts";
import { anthropic, namespace } from "../support/clients.ts";
import { recordRequest } from "../support/records.ts";
import { freshTenant } from "../support/tenants.ts";
import { eventually, tracker } from "../support/tracker.ts";
import { instrument, silence } from "../support/tracker-faults.ts";

const MODEL = "claude-sonnet-4-6";

function record(tenantId: string, i: number, over: Partial<RecordRequest> = {}): RecordRequest {
  return recordRequest({ tenantId, requestId: `req_queued_${i}`, at: Date.now() + i, ...over });
}

/** The consumer's verdict on a batch: which messages it acknowledged and which it will see again, when. */
async function consume(messages: { id: string; attempts: number; body: unknown }[]) {
  const batch = createMessageBatch<RecordRequest>(
    "stoker-records",
    messages.map((m) => ({ ...m, timestamp: Date.now(), body: m.body as RecordRequest })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  const result = await getQueueResult(batch, ctx);
  return {
    acked: [...result.explicitAcks].sort(),
    retried: result.retryMessages.map((r) => r.msgId),
  };
}

describe("the record queue", () => {
  it("takes a record the tracker refused through every try, and delivers it once the tracker takes calls", async () => {
    const t = freshTenant();
    const batches = await instrument(t.id, RECORD_ATTEMPTS);
    await anthropic(namespace(), { apiKey: t.key }).messages.create({
      model: MODEL,
      max_tokens: 8,
      messages: [{ role: "user", content: "one" }],
    });
    // Counted by the queue's consumer (Miniflare delivers within the queue's 5 s batch timeout).
    const totals = await eventually(
      () => tracker(t.id).totals(),
      (x) => x.requests >= 1,
      20_000,
    );
    expect(totals.requests).toBe(1);
    expect(await batches()).toBe(RECORD_ATTEMPTS + 1); // the isolate's tries, then the consumer's delivery
  }, 30_000);

  it("bounds what waits in the isolate: past 256 records, a new one goes straight to the queue", async () => {
    const t = freshTenant();
    const queuedAt: number[] = [];
    const log: Logger = {
      debug() {},
      info() {},
      warn(msg, fields) {
        if (msg === "record.queued") queuedAt.push(Number(fields?.attempts));
      },
      error() {},
    };
    const held = silence(t.id, 2000);
    const n = 300;
    await Promise.all(Array.from({ length: n }, (_, i) => recordSafely(env, t.id, record(t.id, i), log)));
    await held;
    // The first 256 waited for the tracker (busy for 2 s, within a call's deadline); the rest were queued at once.
    expect(queuedAt).toEqual(new Array(n - 256).fill(0));
    const totals = await eventually(
      () => tracker(t.id).totals(),
      (x) => x.requests >= n,
      20_000,
    );
    expect(totals.requests).toBe(n);
  }, 30_000);

  it("acknowledges what the tracker took or refused for good, and delivers again what it could not take", async () => {
    const healthy = freshTenant();
    const failing = freshTenant();
    await instrument(failing.id, 1);
    const taken = record(healthy.id, 1);
    const invalid = { ...record(healthy.id, 2), usage: "many" };
    const refused = record(failing.id, 3);
    const first = await consume([
      { id: "taken", attempts: 1, body: taken },
      { id: "invalid", attempts: 1, body: invalid },
      { id: "no-tenant", attempts: 1, body: { requestId: "req_x" } },
      { id: "refused", attempts: 3, body: refused },
    ]);
    expect(first.acked).toEqual(["invalid", "no-tenant", "taken"]);
    expect(first.retried).toEqual(["refused"]);
    expect((await tracker(healthy.id).totals()).requests).toBe(1);
    expect((await tracker(failing.id).totals()).requests).toBe(0);

    // Delivered again (and the healthy tenant's record again, as at-least-once delivery may): each counted once.
    const second = await consume([
      { id: "refused", attempts: 4, body: refused },
      { id: "taken", attempts: 2, body: taken },
    ]);
    expect(second.acked).toEqual(["refused", "taken"]);
    expect((await tracker(failing.id).totals()).requests).toBe(1);
    expect((await tracker(healthy.id).totals()).requests).toBe(1);
  });

  it("gives a record up (logged as lost) after its last delivery, backing off to every 5 minutes before", async () => {
    const t = freshTenant();
    await instrument(t.id, 2);
    const last = await consume([{ id: "last", attempts: DELIVERY_ATTEMPTS, body: record(t.id, 1) }]);
    expect(last).toEqual({ acked: ["last"], retried: [] });
    const earlier = await consume([
      { id: "earlier", attempts: DELIVERY_ATTEMPTS - 1, body: record(t.id, 2) },
    ]);
    expect(earlier.retried).toEqual(["earlier"]);
    expect([1, 2, 3, 4, 5, 6, 7].map(retryDelaySeconds)).toEqual([5, 10, 20, 40, 80, 160, 300]);
  });

  it("a record delivered after later ones (by the queue, after an outage) is counted but sets nothing back", async () => {
    const t = freshTenant();
    const stub = tracker(t.id);
    const at = Date.now();
    const positions = [{ hash: "late-head-aaaaaaaaaaa", tokens: 2000, breakpoint: "5m" as const }];
    const conversation = "late-conversation-aaa";
    const over = { positions, conversation, family: "family-lateslatesla" };
    await stub.record(record(t.id, 1, { ...over, at }));
    await stub.record(record(t.id, 2, { ...over, at: at + 10 * 60_000 }));
    const before = await stub.lookup([positions[0]?.hash ?? ""], at + 10 * 60_000);
    // The record of a request made in between, delivered only now (after a later one, older by 9 minutes).
    const late = await stub.record(record(t.id, 3, { ...over, at: at + 60_000 }));
    expect(late.ok && late.value.counted).toBe(true);
    expect((await stub.totals()).requests).toBe(3);
    const after = await stub.lookup([positions[0]?.hash ?? ""], at + 10 * 60_000);
    expect(after).toEqual(before);
    // Within the window (a retry seconds late) a record is learned from as before.
    await stub.record(record(t.id, 4, { ...over, at: at + 9 * 60_000 }));
    const learned = await stub.lookup([positions[0]?.hash ?? ""], at + 10 * 60_000);
    expect(learned).not.toEqual(before);
  });

  it("carries no prompt text: the capture and the excerpts stay out, the chain too when the record would not fit", () => {
    const t = freshTenant();
    const chain = { hashes: ["a"], tokens: [1], kinds: ["text"] } as unknown as RecordRequest["chain"];
    const full = record(t.id, 1, {
      capture: {
        conversation: "c",
        hash: "h",
        loc: { area: "messages", index: 0 },
        ttl: "5m",
        path: "/v1/messages",
        headers: [],
        body: "a secret prompt",
      },
      excerpts: [{ segment: 0, excerpt: "a volatile line" }],
      chain,
    });
    const queued = queuedRecord(full);
    expect(queued).toMatchObject({ capture: null, chain, requestId: full.requestId, usage: full.usage });
    expect(queued && "excerpts" in queued).toBe(false);
    expect(JSON.stringify(queued)).not.toContain("secret");
    // A chain too long for one message goes; a record too long without it cannot be queued.
    const longChain = { ...chain, hashes: new Array(5000).fill("x".repeat(40)) } as RecordRequest["chain"];
    expect(queuedRecord({ ...full, chain: longChain })).toMatchObject({ chain: null, capture: null });
    const positions = new Array(QUEUED_RECORD_BYTES / 40).fill({
      hash: "x".repeat(40),
      tokens: 1,
      breakpoint: null,
    });
    expect(queuedRecord({ ...full, positions })).toBeNull();
  });
});

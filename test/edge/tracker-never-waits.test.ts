// The request path never waits for the tenant's tracker (issue 19): with a tracker that does not answer, every
// request completes with the stateless plan; records are coalesced per isolate, sent again until the tracker
// has them, and counted once.
import type Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { RECORD_BATCH } from "../../src/tracker/client.ts";
import { anthropic, anthropicWithVars, longText, namespace } from "../support/clients.ts";
import { prepareWithoutState } from "../support/prepare.ts";
import { freshTenant } from "../support/tenants.ts";
import { totalsAfter, tracker } from "../support/tracker.ts";
import { instrument, silence } from "../support/tracker-faults.ts";

const MODEL = "claude-sonnet-4-6";
const TRACKER_DEADLINE_MS = 2000; // vitest.config.ts: what a request used to wait for a lookup at most
/** Long enough for the requests below to be answered within it on a loaded CI machine. */
const BATCH_WAIT_MS = 1000;

/** The plan Stoker makes of `body` knowing nothing (Stoker's own prepare, with an empty lookup). */
async function statelessPlan(tenantId: string, body: Record<string, unknown>): Promise<string | null> {
  return (await prepareWithoutState(tenantId, body)).planText;
}

describe("a tracker that never answers", () => {
  it("holds up no request: each completes with the stateless plan, and no record is lost", async () => {
    const t = freshTenant();
    const client = anthropic(namespace(), { apiKey: t.key });
    const system = longText(2500, "rules");
    const held = silence(t.id, 6000);
    const bodies: Record<string, unknown>[] = [];
    const plans: (string | null)[] = [];
    const times: number[] = [];
    // Three conversations of two turns each, every one sent while the tracker answers nothing.
    for (let c = 0; c < 3; c++) {
      const messages: Anthropic.MessageParam[] = [{ role: "user", content: `Conversation ${c}` }];
      for (let turn = 0; turn < 2; turn++) {
        const body = { model: MODEL, max_tokens: 16, system, messages: [...messages] };
        const started = Date.now();
        const { data, response } = await client.messages.create(body).withResponse();
        times.push(Date.now() - started);
        bodies.push(body);
        plans.push(response.headers.get("x-stoker-plan"));
        messages.push({ role: "assistant", content: data.content }, { role: "user", content: "And?" });
      }
    }
    // A request that waited for the lookup would take its deadline (2 s here) at least.
    for (const ms of times) expect(ms).toBeLessThan(TRACKER_DEADLINE_MS);
    const expected = await Promise.all(bodies.map((b) => statelessPlan(t.id, b)));
    expect(plans).toEqual(expected);
    expect(plans.every((p) => p?.includes("bp="))).toBe(true);
    await held;
    expect((await totalsAfter(t.id, 6)).requests).toBe(6);
  }, 30_000);
});

describe("records", () => {
  it("are coalesced: many requests, fewer RPCs, each counted once", async () => {
    const t = freshTenant();
    const batches = await instrument(t.id);
    const client = anthropic(namespace(), { apiKey: t.key });
    // While the tracker is busy, the isolate's records wait and go together once it takes calls again.
    const held = silence(t.id, 1500);
    const n = 8;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        client.messages.create({
          model: MODEL,
          max_tokens: 8,
          messages: [{ role: "user", content: `q${i}` }],
        }),
      ),
    );
    await held;
    expect((await totalsAfter(t.id, n)).requests).toBe(n);
    const rpcs = await batches();
    expect(rpcs).toBeGreaterThan(0);
    expect(rpcs).toBeLessThan(n);
  }, 30_000);

  it("wait RECORD_BATCH_WAIT_MS for the next requests' records: one after another, one RPC", async () => {
    const t = freshTenant();
    const batches = await instrument(t.id);
    const { client, settled } = anthropicWithVars(namespace(), t.key, {
      RECORD_BATCH_WAIT_MS: String(BATCH_WAIT_MS),
    });
    const n = 4;
    const started = Date.now();
    for (let i = 0; i < n; i++)
      await client.messages.create({
        model: MODEL,
        max_tokens: 8,
        messages: [{ role: "user", content: `one after another ${i}` }],
      });
    // Every request was answered before the first record's wait ended: nothing waited for it.
    expect(Date.now() - started).toBeLessThan(BATCH_WAIT_MS);
    await settled();
    expect((await tracker(t.id).totals()).requests).toBe(n);
    // Without the wait each record goes alone, as soon as its request is done (n RPCs).
    expect(await batches()).toBe(1);
  }, 30_000);

  it("a record carrying a large request (its keepalive capture) goes at once, whatever the wait", async () => {
    const t = freshTenant();
    const { client } = anthropicWithVars(namespace(), t.key, {
      RECORD_BATCH_WAIT_MS: String(BATCH_WAIT_MS),
    });
    // About 240 KB of system prompt: past what waits for other records (client.ts RECORD_WAIT_BYTES).
    const system = longText(60_000, "large");
    await client.messages.create({
      model: MODEL,
      max_tokens: 8,
      system,
      messages: [{ role: "user", content: "one large request" }],
    });
    const answered = Date.now();
    expect((await totalsAfter(t.id, 1)).requests).toBe(1);
    expect(Date.now() - answered).toBeLessThan(BATCH_WAIT_MS);
  }, 30_000);

  it("a full batch of waiting records (RECORD_BATCH) goes at once, whatever the wait", async () => {
    const t = freshTenant();
    const { client } = anthropicWithVars(namespace(), t.key, {
      RECORD_BATCH_WAIT_MS: String(BATCH_WAIT_MS),
    });
    let firstAnswered = Number.POSITIVE_INFINITY;
    await Promise.all(
      Array.from({ length: RECORD_BATCH }, async (_, i) => {
        await client.messages.create({
          model: MODEL,
          max_tokens: 8,
          messages: [{ role: "user", content: `all at once ${i}` }],
        });
        firstAnswered = Math.min(firstAnswered, Date.now());
      }),
    );
    // The first record was made before its request was answered: without the rule, none is heard until
    // that record's wait is over.
    expect((await totalsAfter(t.id, RECORD_BATCH)).requests).toBe(RECORD_BATCH);
    expect(Date.now() - firstAnswered).toBeLessThan(BATCH_WAIT_MS - 100);
  }, 30_000);

  it("a batch the tracker fails to take is sent again until it has it", async () => {
    const t = freshTenant();
    const batches = await instrument(t.id, 3);
    const client = anthropic(namespace(), { apiKey: t.key });
    await client.messages.create({
      model: MODEL,
      max_tokens: 8,
      messages: [{ role: "user", content: "one" }],
    });
    const totals = await totalsAfter(t.id, 1);
    expect(totals.requests).toBe(1);
    expect(await batches()).toBe(4); // three refused, the fourth taken
  }, 30_000);

  it("a record the tracker stored but could not confirm is sent again and counted once (idempotent by id)", async () => {
    const t = freshTenant();
    const batches = await instrument(t.id, 2, true);
    const client = anthropic(namespace(), { apiKey: t.key });
    await client.messages.create({
      model: MODEL,
      max_tokens: 8,
      messages: [{ role: "user", content: "one" }],
    });
    await totalsAfter(t.id, 1);
    // Wait until the third attempt (the first confirmed one) is in, then check nothing counted twice.
    for (let i = 0; i < 100 && (await batches()) < 3; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await batches()).toBe(3);
    expect((await tracker(t.id).totals()).requests).toBe(1);
  }, 30_000);
});

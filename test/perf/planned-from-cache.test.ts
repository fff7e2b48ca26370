// The request path plans from the isolate's cache of tracker answers (src/tracker/client-cache.ts) when it
// can: these tests check that this changes no plan, that the cache is used, that a hung tracker then holds
// nothing up, and that the record's answer is what a lookup would say.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { Conversation } from "../../bench/overhead/bodies.ts";
import { getConfig } from "../../src/core/config.ts";
import { keepaliveCapture } from "../../src/edge/capture.ts";
import { prepare } from "../../src/edge/prepare.ts";
import { DEV_AWAIT_TRACKER } from "../../src/edge/proxy.ts";
import { toRecord } from "../../src/edge/record.ts";
import { DEFAULT_CACHE_SETTINGS } from "../../src/plan/settings.ts";
import { forgetAllBeliefs } from "../../src/tracker/client-cache.ts";
import type { Tracker } from "../../src/tracker/tracker.ts";
import type { RecordRequest } from "../../src/tracker/types.ts";
import { anthropicUsage } from "../../src/upstream/usage.ts";
import { anthropic, longText, namespace } from "../support/clients.ts";
import { freshTenant } from "../support/tenants.ts";
import { totalsAfter, tracker } from "../support/tracker.ts";

const MODEL = "claude-sonnet-4-6";

/**
 * Counts the tracker's `lookup` calls per object: RPC dispatches to prototype methods only, so the class's
 * method is wrapped (once) and each instance keeps its own count.
 */
async function countLookups(tenantId: string): Promise<() => Promise<number>> {
  type Counted = Tracker & { lookups?: number };
  await runInDurableObject(tracker(tenantId), (instance: Tracker) => {
    const proto = Object.getPrototypeOf(instance) as { lookup: Tracker["lookup"]; counting?: true };
    if (!proto.counting) {
      const original = proto.lookup;
      proto.lookup = function (this: Counted, ...args) {
        this.lookups = (this.lookups ?? 0) + 1;
        return original.apply(this, args);
      };
      proto.counting = true;
    }
    (instance as Counted).lookups = 0;
  });
  return () => runInDurableObject(tracker(tenantId), (i: Tracker) => (i as Counted).lookups ?? 0);
}

/**
 * `turns` turns of one conversation; before each, waits for the previous record. With `forget`, the isolate
 * forgets what it heard before each turn and (dev clock only) waits for the tracker's lookup: what asking
 * the tracker every turn would plan (a deploy never waits; it would plan such a turn without state).
 */
async function run(tenant: { id: string; key: string }, turns: number, forget: boolean) {
  const client = anthropic(namespace(), {
    apiKey: tenant.key,
    headers: forget ? { [DEV_AWAIT_TRACKER]: "1" } : {},
  });
  const system = longText(2500, "rules");
  const messages: Anthropic.MessageParam[] = [];
  const out: { plan: string | null; read: number; write: number }[] = [];
  for (let turn = 0; turn < turns; turn++) {
    await totalsAfter(tenant.id, turn);
    if (forget) forgetAllBeliefs();
    messages.push({ role: "user", content: `Turn ${turn}: ${longText(150, `u${turn}`)}` });
    const { data, response } = await client.messages
      .create({ model: MODEL, max_tokens: 32, system, messages: [...messages] })
      .withResponse();
    out.push({
      plan: response.headers.get("x-stoker-plan"),
      read: data.usage.cache_read_input_tokens ?? 0,
      write: data.usage.cache_creation_input_tokens ?? 0,
    });
    messages.push({ role: "assistant", content: data.content });
  }
  await totalsAfter(tenant.id, turns);
  return out;
}

describe("planning from the isolate's cache of tracker answers", () => {
  it("gives the plans and cache reads that asking the tracker gives, with no lookup instead of one per turn", async () => {
    const cached = freshTenant();
    const asked = freshTenant();
    const cachedLookups = await countLookups(cached.id);
    const askedLookups = await countLookups(asked.id);
    const a = await run(cached, 6, false);
    const b = await run(asked, 6, true);
    expect(a).toEqual(b);
    expect(a.slice(1).every((t) => t.read > 0)).toBe(true);
    // No turn asks: the first plans from what the isolate holds (nothing of this tenant), the others from
    // the answers to the records of the turns before (what a lookup would say, without its RPC).
    expect(await cachedLookups()).toBe(0);
    expect(await askedLookups()).toBe(6);
  });

  it("a tracker that hangs after a turn holds up none of the next turns while the cache is fresh", async () => {
    const t = freshTenant();
    const client = anthropic(namespace(), { apiKey: t.key });
    const system = longText(2500, "rules");
    const first = await client.messages.create({
      model: MODEL,
      max_tokens: 16,
      system,
      messages: [{ role: "user", content: "First question" }],
    });
    await totalsAfter(t.id, 1);
    // Close the tracker's input gate for longer than TRACKER_DEADLINE_MS (2 s in the test config).
    const held = runInDurableObject(tracker(t.id), (_i, state) =>
      state.blockConcurrencyWhile(() => new Promise<void>((r) => setTimeout(r, 3000))),
    );
    const started = Date.now();
    const { response } = await client.messages
      .create({
        model: MODEL,
        max_tokens: 16,
        system,
        messages: [
          { role: "user", content: "First question" },
          { role: "assistant", content: first.content },
          { role: "user", content: "Second question" },
        ],
      })
      .withResponse();
    expect(Date.now() - started).toBeLessThan(1500);
    // Planned with what the first turn's record said: the system prompt it wrote is read.
    expect(response.headers.get("x-stoker-plan")).toMatch(/read=[1-9]/);
    await held;
    expect((await totalsAfter(t.id, 2)).requests).toBe(2);
  }, 15_000);

  it("one tenant's requests are never planned from another tenant's answers", async () => {
    const a = freshTenant();
    const b = freshTenant();
    const bLookups = await countLookups(b.id);
    await run(a, 2, false);
    // The same conversation for b: its first turn is planned from nothing (a's answers are not b's), the
    // second from the answer of b's own tracker to the first's record.
    const plans = await run(b, 2, false);
    expect(await bLookups()).toBe(0);
    expect(plans[0]?.read).toBe(0);
    expect(plans[0]?.plan).not.toMatch(/read=[1-9]/);
  });
});

describe("the record's answer", () => {
  const silent = { debug() {}, info() {}, warn() {}, error() {} };

  /** A realistic conversation's records (prepared by Stoker's own code, answered by the simulator). */
  async function conversation(tenant: string, turns: number, managed: boolean): Promise<RecordRequest[]> {
    const config = getConfig(env);
    const conv = new Conversation("anthropic", 20_000, 91, 91);
    const stub = tracker(tenant);
    const ns = namespace();
    const out: RecordRequest[] = [];
    for (let i = 0; i < turns; i++) {
      const body = conv.body();
      const startedAt = Date.now();
      const prepared = await prepare({
        endpoint: "messages",
        raw: JSON.stringify(body),
        body,
        tenantId: tenant,
        tenantRules: {},
        settings: DEFAULT_CACHE_SETTINGS,
        config,
        canonicalizeHeader: null,
        nowMs: startedAt,
        lookup: async (hashes, scope) => {
          const answer = await stub.lookup(hashes, startedAt, { family: scope.family, model: scope.model });
          if (!answer.ok) return { known: new Map() };
          const { states, ...facts } = answer.value;
          return { known: new Map(Object.entries(states)), ...facts };
        },
        log: silent,
      });
      const headers = new Headers({
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "x-sim-namespace": ns,
      });
      const res = await fetch(`${env.SIM_URL}/anthropic/v1/messages`, {
        method: "POST",
        headers,
        body: prepared.body,
      });
      const answer = (await res.json()) as { usage: unknown; content: { text?: string }[] };
      const record = toRecord(
        {
          requestId: `req_answer_${tenant}_${i}`,
          tenantId: tenant,
          upstream: "anthropic",
          endpoint: "messages",
          model: String(body.model),
          stream: false,
          status: 200,
          result: "ok",
          usage: anthropicUsage(answer.usage),
          startedAt,
          headersMs: 1,
          ttfbMs: 1,
          durationMs: 1,
          plan: prepared.planText,
        },
        prepared,
        managed ? keepaliveCapture(prepared, prepared.body, headers, "/v1/messages") : null,
        config.models,
      );
      out.push(record);
      const recorded = await stub.record(record);
      const looked = await stub.lookup(
        record.positions.map((p) => p.hash),
        record.at,
        {
          family: record.family as string,
          model: record.model,
          conversation: record.conversation as string,
        },
      );
      expect(recorded.ok && looked.ok).toBe(true);
      if (recorded.ok && looked.ok) {
        // Without the message id: the lookup names the conversation's, the record's answer its own.
        const { counted, previousMessageId: _r, ...answer } = recorded.value;
        const { previousMessageId: _l, ...lookedFacts } = looked.value;
        expect(counted).toBe(true);
        expect(answer).toEqual(lookedFacts);
        expect(answer.familyRatePerMin).toBeGreaterThan(0);
        expect(answer.calibration?.weight).toBeGreaterThan(0);
      }
      conv.advance(answer.content[0]?.text || "ok");
    }
    return out;
  }

  it("is what a lookup at the request's start says of its positions, turn after turn", async () => {
    const t = freshTenant();
    await conversation(t.id, 5, false);
    const m = freshTenant();
    const records = await conversation(m.id, 5, true);
    // A retried record counts nothing, changes nothing, and still answers with the positions' states.
    const last = records[records.length - 1] as RecordRequest;
    const hashes = last.positions.map((p) => p.hash);
    const scope = {
      family: last.family as string,
      model: last.model,
      conversation: last.conversation as string,
    };
    const before = await tracker(m.id).lookup(hashes, last.at, scope);
    const again = await tracker(m.id).record(last);
    const after = await tracker(m.id).lookup(hashes, last.at, scope);
    expect(again.ok && !again.value.counted).toBe(true);
    expect(after).toEqual(before);
    if (again.ok && after.ok) {
      const { counted: _, previousMessageId: _r, ...answer } = again.value;
      const { previousMessageId: _l, ...looked } = after.value;
      expect(answer).toEqual(looked);
    }
    expect((await tracker(m.id).totals()).requests).toBe(5);
  }, 30_000);
});

// The edge holds a request's keepalive capture back (KEEPALIVE_CAPTURE_HOLD_MS, src/edge/capture-hold.ts):
// the record goes to the tracker at once without the body, and the body follows only when no later turn of
// the conversation came through the isolate within the hold. The tests' own bindings run on the dev clock,
// where captures go with their records; here the worker runs with a hold of its own.
import { runInDurableObject } from "cloudflare:test";
import type Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import {
  heldCaptures,
  holdCapture,
  MAX_HELD_CHARS,
  MAX_RECENT,
  releaseHold,
} from "../../src/edge/capture-hold.ts";
import type { Tracker } from "../../src/tracker/tracker.ts";
import type { WholeCapture } from "../../src/tracker/types.ts";
import { anthropicWithVars, longText, namespace, simRequests } from "../support/clients.ts";
import { justBeforeLapse, KEEPALIVE_MODEL, keepaliveRows, seedFamilyHistory } from "../support/keepalive.ts";
import { recordRequest } from "../support/records.ts";
import { freshTenant } from "../support/tenants.ts";
import { totalsAfter, tracker } from "../support/tracker.ts";

const HOLD_MS = 400;

type Counted = Tracker & { captureCalls?: number; capturesSent?: number; counting?: true };

/** Counts the `keepCaptures` calls the tenant's tracker takes, and the captures in them. */
async function countCaptures(tenantId: string): Promise<() => Promise<{ calls: number; captures: number }>> {
  await runInDurableObject(tracker(tenantId), (instance: Tracker) => {
    const proto = Object.getPrototypeOf(instance) as {
      keepCaptures: Tracker["keepCaptures"];
      counting?: true;
    };
    if (!proto.counting) {
      const original = proto.keepCaptures;
      proto.keepCaptures = function (this: Counted, tenant, captures) {
        this.captureCalls = (this.captureCalls ?? 0) + 1;
        this.capturesSent = (this.capturesSent ?? 0) + (Array.isArray(captures) ? captures.length : 0);
        return original.call(this, tenant, captures);
      };
      proto.counting = true;
    }
  });
  return () =>
    runInDurableObject(tracker(tenantId), (i: Tracker) => ({
      calls: (i as Counted).captureCalls ?? 0,
      captures: (i as Counted).capturesSent ?? 0,
    }));
}

/** The official SDK against the worker run with a capture hold; `settled()` waits for every request's waitUntil. */
const heldClient = (ns: string, apiKey: string) =>
  anthropicWithVars(ns, apiKey, { KEEPALIVE_CAPTURE_HOLD_MS: String(HOLD_MS) });

const rowHash = (tenantId: string) =>
  runInDurableObject(tracker(tenantId), (_i, state) =>
    state.storage.sql.exec<{ hash: string }>("SELECT hash FROM keepalive").toArray(),
  );

describe("keepalive captures held at the edge", () => {
  /** `turns` turns of one conversation through `client`, `pauseMs` apart, recorded. */
  async function turnsOf(client: Anthropic, tenantId: string, turns: number, pauseMs = 0) {
    const system = longText(3000, "rules");
    const messages: Anthropic.MessageParam[] = [];
    for (let turn = 0; turn < turns; turn++) {
      if (turn > 0 && pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      messages.push({ role: "user", content: `Turn ${turn}: ${longText(1500, `u${turn}`)}` });
      const reply = await client.messages.create({
        model: KEEPALIVE_MODEL,
        max_tokens: 32,
        system,
        messages,
      });
      messages.push({ role: "assistant", content: reply.content });
    }
    await totalsAfter(tenantId, turns);
  }

  it("turns within the hold send one capture, the last: the others never travel", async () => {
    const t = freshTenant();
    const count = await countCaptures(t.id);
    const { client, settled } = heldClient(namespace(), t.key);
    // The first turn's capture goes with its record (no loop yet); the second's is held, then replaced.
    await turnsOf(client, t.id, 3);
    // The records are in, the last capture is still held: the candidate has no body yet.
    const [before] = await keepaliveRows(t.id);
    expect(before).toMatchObject({ state: "live", has_body: 0 });
    await settled();
    expect((await keepaliveRows(t.id))[0]?.has_body).toBe(1);
    expect(await count()).toEqual({ calls: 1, captures: 1 });
    expect(heldCaptures().holds).toBe(0);
  });

  it("a held capture, once sent, is what a ping replays", async () => {
    const ns = namespace();
    const t = freshTenant();
    const { client, settled } = heldClient(ns, t.key);
    await turnsOf(client, t.id, 2);
    await settled();
    const [row] = await keepaliveRows(t.id);
    expect(row?.has_body).toBe(1);
    if (!row) throw new Error("no keepalive candidate");
    await seedFamilyHistory(t.id, row.family, 2, 0.8);
    const { sweepAt } = await justBeforeLapse(ns, row, 0);
    const report = await tracker(t.id).runKeepalive(sweepAt);
    expect(report).toMatchObject({ pinged: 1, refreshed: 1 });
    // The conversation's whole prompt, read from the cache.
    const ping = (await simRequests(ns)).find((r) => JSON.parse(r.body).max_tokens === 0);
    expect(ping?.body).toContain("Turn 1: ");
  });

  it("a conversation's first capture, and one after a pause longer than the hold, go with their records", async () => {
    const ns = namespace();
    const t = freshTenant();
    const count = await countCaptures(t.id);
    const { client, settled } = heldClient(ns, t.key);
    await turnsOf(client, t.id, 2, HOLD_MS + 100);
    // Nothing held: the candidate has its request as soon as its record is in, and nothing follows.
    expect((await keepaliveRows(t.id))[0]?.has_body).toBe(1);
    await settled();
    expect(await count()).toEqual({ calls: 0, captures: 0 });
  });
});

describe("the tracker's held captures", () => {
  const capture = <B>(hash: string, body: B) => ({
    conversation: "conversation-aaaaaaaaaaaa",
    hash,
    loc: { area: "system" as const, index: 0 },
    ttl: "5m" as const,
    path: "/v1/messages",
    headers: [["anthropic-version", "2023-06-01"]] as [string, string][],
    body,
  });
  /** `keepCaptures` of tenant `tenantId`'s tracker with one capture of `body` (any value: validation is tested). */
  const keep = (tenantId: string, hash: string, body: unknown) =>
    tracker(tenantId).keepCaptures(tenantId, [capture(hash, body) as WholeCapture]);
  const kept = (n: number) => ({ ok: true, value: { kept: n } });
  /** A record that wrote its deepest position, with `capture` (its body null: held at the edge). */
  const recordWith = (tenantId: string, hash: string, at: number, body: string | null = null) =>
    recordRequest({
      tenantId,
      requestId: `req_held_${hash}_${at}`,
      at,
      family: "family-aaaaaaaaaaaa",
      conversation: "conversation-aaaaaaaaaaaa",
      positions: [{ hash, tokens: 4000, breakpoint: "5m" }],
      usage: {
        inputTokens: 4000,
        uncachedTokens: 0,
        cacheReadTokens: 0,
        cacheWrite5mTokens: 4000,
        cacheWrite1hTokens: 0,
        outputTokens: 5,
      },
      capture: capture(hash, body),
    });

  it("a candidate without its body is never pinged: its pings end as no-request", async () => {
    const ns = namespace();
    const t = freshTenant();
    const stub = tracker(t.id);
    // A conversation that came back (second sight), so its capture is worth keeping.
    const at = Date.now();
    expect((await stub.record(recordWith(t.id, "hash-first-aaaaaa", at))).ok).toBe(true);
    expect((await stub.record(recordWith(t.id, "hash-second-aaaaa", at + 5_000))).ok).toBe(true);
    const [row] = await keepaliveRows(t.id);
    expect(row).toMatchObject({ state: "live", has_body: 0 });
    if (!row) throw new Error("no keepalive candidate");
    await seedFamilyHistory(t.id, row.family, 2, 0.8);
    const report = await stub.runKeepalive(row.cached_until - 15_000);
    expect(report).toMatchObject({ pinged: 0, stopped: 1 });
    const [after] = await keepaliveRows(t.id);
    expect(after).toMatchObject({ state: "stopped", note: "no-request" });
    expect(await simRequests(ns)).toEqual([]);
  });

  it("a held capture for the entry already stored keeps that request meanwhile; for a new entry, none", async () => {
    const t = freshTenant();
    const stub = tracker(t.id);
    const at = Date.now();
    const body = JSON.stringify({ model: KEEPALIVE_MODEL, messages: [] });
    await stub.record(recordWith(t.id, "hash-first-aaaaaa", at));
    await stub.record(recordWith(t.id, "hash-second-aaaaa", at + 5_000, body));
    expect((await keepaliveRows(t.id))[0]?.has_body).toBe(1);
    // A retry of the turn (the same entry), its capture held: the stored request still serves a ping.
    await stub.record(recordWith(t.id, "hash-second-aaaaa", at + 10_000));
    expect((await keepaliveRows(t.id))[0]?.has_body).toBe(1);
    await stub.record(recordWith(t.id, "hash-third-aaaaaa", at + 15_000));
    expect(await rowHash(t.id)).toEqual([{ hash: "hash-third-aaaaaa" }]);
    expect((await keepaliveRows(t.id))[0]?.has_body).toBe(0);
  });

  it("keeps a capture only for the candidate it belongs to, and only for its own tenant", async () => {
    const t = freshTenant();
    const other = freshTenant();
    const stub = tracker(t.id);
    const at = Date.now();
    await stub.record(recordWith(t.id, "hash-first-aaaaaa", at));
    await stub.record(recordWith(t.id, "hash-second-aaaaa", at + 5_000));
    expect(await rowHash(t.id)).toEqual([{ hash: "hash-second-aaaaa" }]);
    const body = JSON.stringify({ model: KEEPALIVE_MODEL, messages: [] });
    // The earlier turn's capture, superseded by the later record: dropped.
    expect(await keep(t.id, "hash-first-aaaaaa", body)).toEqual(kept(0));
    // Another tenant's id, or a capture without its body: refused, nothing stored.
    expect((await tracker(t.id).keepCaptures(other.id, [capture("hash-second-aaaaa", body)])).ok).toBe(false);
    expect((await keep(t.id, "hash-second-aaaaa", null)).ok).toBe(false);
    expect((await keepaliveRows(t.id))[0]?.has_body).toBe(0);
    expect(await keep(t.id, "hash-second-aaaaa", body)).toEqual(kept(1));
    expect((await keepaliveRows(t.id))[0]?.has_body).toBe(1);
    // Once it has its request, another copy is not sealed again.
    expect(await keep(t.id, "hash-second-aaaaa", body)).toEqual(kept(0));
  });

  it("takes a capture's body as the bytes the edge sent or as text, and refuses anything else", async () => {
    const t = freshTenant();
    const stub = tracker(t.id);
    const at = Date.now();
    await stub.record(recordWith(t.id, "hash-first-aaaaaa", at));
    await stub.record(recordWith(t.id, "hash-second-aaaaa", at + 5_000));
    const text = JSON.stringify({ model: KEEPALIVE_MODEL, messages: [] });
    const bytes = new TextEncoder().encode(text);
    // Neither a number array (what JSON would make of bytes) nor an object: refused, nothing stored.
    for (const body of [Array.from(bytes), { text }])
      expect((await keep(t.id, "hash-second-aaaaa", body)).ok).toBe(false);
    expect((await keepaliveRows(t.id))[0]?.has_body).toBe(0);
    expect(await keep(t.id, "hash-second-aaaaa", bytes)).toEqual(kept(1));
    expect((await keepaliveRows(t.id))[0]?.has_body).toBe(1);
  });
});

describe("the isolate's holds", () => {
  const whole = (conversation: string, chars: number): WholeCapture => ({
    conversation,
    hash: "hash-aaaaaaaaaaaa",
    loc: { area: "system", index: 0 },
    ttl: "5m",
    path: "/v1/messages",
    headers: [],
    body: "x".repeat(chars),
  });
  const HOLD = 10_000;
  const T = 1_800_000_000_000;

  it("holds a conversation's capture only in a fast loop: its previous one came within the hold", async () => {
    expect(holdCapture("tenant-d", whole("conv-1", 10), T, HOLD)).toBeNull(); // its first: with the record
    const second = holdCapture("tenant-d", whole("conv-1", 20), T + 4_000, HOLD);
    expect(second).not.toBeNull();
    // A person's next message after a pause: with its record, and the capture held before it is let go.
    expect(holdCapture("tenant-d", whole("conv-1", 30), T + 4_000 + HOLD + 1, HOLD)).toBeNull();
    if (second) expect(await releaseHold(second, 1)).toBeNull();
  });

  it("a later turn supersedes its own conversation's capture only, and lets it go at once", async () => {
    const start = heldCaptures().chars;
    for (const [t, c] of [
      ["tenant-a", "conv-1"],
      ["tenant-b", "conv-1"],
    ])
      holdCapture(t as string, whole(c as string, 1), T, HOLD);
    const a1 = holdCapture("tenant-a", whole("conv-1", 1000), T + 1_000, HOLD);
    const b1 = holdCapture("tenant-b", whole("conv-1", 1000), T + 1_000, HOLD);
    const a2 = holdCapture("tenant-a", whole("conv-1", 2000), T + 2_000, HOLD);
    if (!a1 || !b1 || !a2) throw new Error("not held");
    expect(heldCaptures().chars - start).toBe(3000);
    expect(await releaseHold(a1, 1)).toBeNull();
    expect((await releaseHold(b1, 1))?.body.length).toBe(1000);
    expect((await releaseHold(a2, 1))?.body.length).toBe(2000);
    expect(heldCaptures().chars).toBe(start);
  });

  it("holds at most MAX_HELD_CHARS of bodies and remembers at most MAX_RECENT conversations", async () => {
    holdCapture("tenant-c", whole("conv-big", 1), T, HOLD);
    holdCapture("tenant-c", whole("conv-other", 1), T, HOLD);
    const big = holdCapture(
      "tenant-c",
      whole("conv-big", MAX_HELD_CHARS - heldCaptures().chars),
      T + 1,
      HOLD,
    );
    expect(big).not.toBeNull();
    expect(holdCapture("tenant-c", whole("conv-other", 1), T + 2, HOLD)).toBeNull();
    if (big) await releaseHold(big, 1);
    const small = holdCapture("tenant-c", whole("conv-other", 1), T + 3, HOLD);
    expect(small).not.toBeNull();
    if (small) await releaseHold(small, 1);
    for (let i = 0; i < MAX_RECENT + 10; i++) holdCapture("tenant-e", whole(`conv-${i}`, 1), T, HOLD);
    expect(heldCaptures().recent).toBe(MAX_RECENT);
    // The least recent was forgotten: its next capture counts as its first.
    expect(holdCapture("tenant-e", whole("conv-0", 1), T + 1, HOLD)).toBeNull();
  });
});

// In a fast loop an isolate shares the tracker's answer to a turn (src/tracker/shared-answers.ts) only once
// no later turn of the conversation came through it within SHARED_ANSWERS_HOLD_MS (src/tracker/share-hold.ts):
// the next turn's answer covers the earlier one's positions, so a loop writes one entry when it pauses
// instead of one per turn. The tests' own bindings run on the dev clock, where nothing is held; here the
// worker runs with a hold of its own.
import type Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import {
  heldShares,
  holdShare,
  keepHeld,
  MAX_HELD,
  MAX_HELD_POSITIONS,
  MAX_RECENT,
  releaseShare,
  type ShareHold,
} from "../../src/tracker/share-hold.ts";
import { type SharedAnswer, sharedAnswer } from "../../src/tracker/shared-answers.ts";
import { anthropicWithVars, longText, namespace } from "../support/clients.ts";
import { prepareWithoutState } from "../support/prepare.ts";
import { freshTenant } from "../support/tenants.ts";
import { totalsAfter } from "../support/tracker.ts";

const HOLD_MS = 1000;
const MODEL = "claude-sonnet-4-6";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The official SDK against the worker run with a share hold; `settled()` waits for every request's waitUntil. */
const heldClient = (ns: string, apiKey: string) =>
  anthropicWithVars(ns, apiKey, { SHARED_ANSWERS_HOLD_MS: String(HOLD_MS) });

/** A conversation whose turns go through `client`: `next()` sends one more and returns its body. */
function conversation(client: Anthropic, tenantId: string) {
  const system = longText(2500, "rules");
  const messages: Anthropic.MessageParam[] = [];
  let turns = 0;
  return {
    async next(): Promise<Anthropic.MessageCreateParamsNonStreaming> {
      messages.push({ role: "user", content: `Turn ${turns}: ${longText(300, `u${turns}`)}` });
      const body = { model: MODEL, max_tokens: 16, system, messages: [...messages] };
      const reply = await client.messages.create(body);
      messages.push({ role: "assistant", content: reply.content });
      await totalsAfter(tenantId, ++turns);
      return body;
    },
  };
}

async function conversationOf(tenantId: string, body: Anthropic.MessageCreateParams): Promise<string> {
  const prepared = await prepareWithoutState(tenantId, body as unknown as Record<string, unknown>);
  return prepared.analysis?.conversation as string;
}

/**
 * A fresh tenant's conversation through the worker run with the hold, its first turn sent and settled: that
 * turn is no loop yet, so its answer is shared as it is heard (`s1`).
 */
async function firstTurnShared() {
  const t = freshTenant();
  const { client, settled } = heldClient(namespace(), t.key);
  const talk = conversation(client, t.id);
  const first = await talk.next();
  await settled();
  const id = await conversationOf(t.id, first);
  const s1 = (await sharedAnswer(t.id, id)) as SharedAnswer;
  expect(s1?.hashes.length).toBeGreaterThan(0);
  return { t, talk, settled, id, s1 };
}

describe("answers held before they are shared", () => {
  it("a fast loop's turns are shared once it pauses: a superseded turn's answer is never written", async () => {
    const { t, talk, settled, id, s1 } = await firstTurnShared();

    // The second turn comes within the hold: its answer is held; the third comes within the second's hold
    // and supersedes it.
    await talk.next();
    const secondAt = Date.now();
    await sleep(300);
    await talk.next();
    // Past the second's hold, within the third's: nothing new was written.
    await sleep(secondAt + HOLD_MS + 150 - Date.now());
    expect(await sharedAnswer(t.id, id)).toEqual(s1);
    expect(heldShares().holds).toBeGreaterThan(0);

    // The third's hold ends: its answer, with every position of the three turns, is the entry.
    await settled();
    const s3 = (await sharedAnswer(t.id, id)) as SharedAnswer;
    expect(s3.at).toBeGreaterThan(s1.at);
    expect(s3.hashes.slice(0, s1.hashes.length)).toEqual(s1.hashes);
    expect(s3.hashes.length).toBeGreaterThan(s1.hashes.length);
    expect(heldShares().holds).toBe(0);
  });

  it("a turn after a pause longer than the hold is shared as it is heard", async () => {
    const { t, talk, settled, id, s1 } = await firstTurnShared();
    await sleep(HOLD_MS + 100);
    await talk.next();
    // Written by the record's own batch, before any hold could end.
    const started = Date.now();
    let s2 = await sharedAnswer(t.id, id);
    while (s2?.at === s1.at && Date.now() - started < HOLD_MS / 2) {
      await sleep(20);
      s2 = await sharedAnswer(t.id, id);
    }
    expect(Date.now() - started).toBeLessThan(HOLD_MS / 2);
    expect(s2?.hashes.length).toBeGreaterThan(s1.hashes.length);
    await settled();
  });
});

describe("share holds", () => {
  const answer = (at: number): SharedAnswer => ({
    at,
    hashes: [`h${at}`],
    answer: { states: [] } as unknown as SharedAnswer["answer"],
  });

  it("hold only a turn whose previous record here came within the hold, and give back the last heard", async () => {
    const tenant = `share-hold-${crypto.randomUUID()}`;
    expect(holdShare(tenant, "c", 1_000, 500)).toBeNull();
    expect(holdShare(tenant, "c", 2_000, 500)).toBeNull(); // 1 s after the last: no loop
    const a = holdShare(tenant, "c", 2_100, 500);
    expect(a).not.toBeNull();
    if (!a) return;
    expect(keepHeld(a, answer(1))).toBe(true);
    // Another tenant's conversation of the same id is its own.
    expect(holdShare(`${tenant}-other`, "c", 2_150, 500)).toBeNull();
    const b = holdShare(tenant, "c", 2_200, 500);
    if (!b) throw new Error("not held");
    expect(a.state).toBe("superseded");
    // A superseded hold takes its answer off the caller's hands and drops it: the later turn's covers it,
    // even when heard after the hold ended.
    expect(keepHeld(a, answer(2))).toBe(true);
    expect(await releaseShare(a, 0)).toBeNull();
    expect(keepHeld(a, answer(2))).toBe(true);
    expect(keepHeld(b, answer(3))).toBe(true);
    expect(keepHeld(b, answer(5))).toBe(true); // the last heard is the one shared
    expect(heldShares().positions).toBeGreaterThanOrEqual(1);
    expect(await releaseShare(b, 1)).toEqual(answer(5));
    // Heard after its hold ended: the caller shares it now.
    expect(keepHeld(b, answer(4))).toBe(false);
  });

  it("are bounded: the conversations remembered, the holds and the positions held", async () => {
    const tenant = `share-hold-${crypto.randomUUID()}`;
    for (let i = 0; i < MAX_RECENT + 10; i++) holdShare(tenant, `c${i}`, 0, 1_000);
    expect(heldShares().recent).toBeLessThanOrEqual(MAX_RECENT);
    // The oldest was forgotten: its next record is no loop.
    expect(holdShare(tenant, "c0", 1, 1_000)).toBeNull();
    const held: ShareHold[] = [];
    for (let i = 100; i < 100 + MAX_HELD + 10; i++) {
      const h = holdShare(tenant, `c${i}`, 2, 1_000);
      if (h) held.push(h);
    }
    expect(held.length).toBeGreaterThan(0);
    expect(heldShares().holds).toBeLessThanOrEqual(MAX_HELD);
    expect(held.length).toBeLessThanOrEqual(MAX_HELD);
    // An answer past the positions' bound is shared as it is heard, not held.
    const big: SharedAnswer = {
      ...answer(9),
      hashes: Array.from({ length: MAX_HELD_POSITIONS + 1 }, String),
    };
    expect(keepHeld(held[0] as ShareHold, big)).toBe(false);
    await Promise.all(held.map((h) => releaseShare(h, 0)));
    expect(heldShares()).toMatchObject({ holds: 0, positions: 0 });
  });
});

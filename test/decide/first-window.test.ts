import { describe, expect, it } from "vitest";
import {
  decodeFamily,
  emptyFamily,
  encodeFamily,
  type FamilyGaps,
  WINDOW_MS,
} from "../../src/decide/gaps.ts";
import { firstWindowShape } from "../../src/decide/hazard.ts";
import { cumulative } from "../../src/decide/hold-value.ts";
import { decideKeepalive } from "../../src/decide/keepalive.ts";
import { DEFAULT_KEEPALIVE } from "../../src/decide/keepalive-settings.ts";
import { modelInfo } from "../../src/economics/models.ts";
import { answerTable, Conversations, TENANT_TABLE } from "../../src/tracker/conversation-state.ts";
import { MemoryConversationStore } from "../../src/tracker/memory.ts";

/**
 * Where inside the first window returns come (issue #14): a ping goes out near the end of the first window,
 * and whether the next request is a pause's end or a return about to come depends on it. Spread evenly, an
 * agent whose tool results come seconds after its answers looked certain to come back in the ping's last 20
 * seconds, so no ping paid and every person's pause of more than 5 minutes lost the conversation.
 */

const MIN = 60_000;
const SONNET = modelInfo("claude-sonnet-4-5"); // read 0.1, 5m write 1.25

function request(c: Conversations, conversation: string, at: number, answer: "tool" | "reply" | null = null) {
  c.sweep(at);
  c.noteRequest(conversation, "f", at, [], answer);
}

/** 30 agents: bursts of 8 tool calls 5 s apart, each burst followed by a person's pause of 6, 9 or 12 minutes. */
function agents(): Conversations {
  const c = new Conversations(new MemoryConversationStore());
  const events: [number, string][] = [];
  for (let k = 0; k < 30; k++) {
    let t = k * 37_000;
    for (let burst = 0; burst < 6; burst++) {
      for (let call = 0; call < 8; call++) {
        events.push([t, `agent-${k}`]);
        t += 5_000;
      }
      t += ([6, 9, 12][(k + burst) % 3] as number) * MIN;
    }
  }
  events.sort((a, b) => a[0] - b[0]);
  for (const [t, conversation] of events) request(c, conversation, t);
  return c;
}

const even = (t: FamilyGaps | null | undefined): FamilyGaps | null =>
  t ? { ...t, firstWindow: [0, 0, 0, 0, 0] } : null;

/** The keepalive decision for `conversation`'s entry at the sweep before it lapses (20 s ahead). */
function atLapse(c: Conversations, conversation: string, exposedTokens: number, evenly = false) {
  const h = c.history(conversation);
  if (!h) throw new Error("no history");
  const now = h.lastAt + 5 * MIN - 20_000;
  const gaps = evenly ? { ...h, family: even(h.family), tenant: even(h.tenant), answer: even(h.answer) } : h;
  return decideKeepalive(
    {
      tokens: 30_000,
      exposedTokens,
      ttl: "5m",
      lastUseMs: h.lastAt,
      pingsSoFar: 0,
      lapseMs: h.lastAt + 5 * MIN,
    },
    gaps,
    now,
    SONNET,
    DEFAULT_KEEPALIVE,
    0,
  );
}

describe("where in the first window returns come", () => {
  it("counts each return within the first window in its fifth, in every table it teaches", () => {
    const c = new Conversations(new MemoryConversationStore());
    request(c, "a", 0, "tool");
    request(c, "a", 5_000, "tool"); // first fifth, after a tool call
    request(c, "a", 5_000 + 4.5 * MIN, "reply"); // last fifth, after a tool call
    request(c, "a", 5_000 + 11 * MIN); // 6.5 minutes later, after the first window: not counted here
    for (const table of ["f", TENANT_TABLE])
      expect(c.store.family(table).firstWindow).toEqual([1, 0, 0, 0, 1]);
    expect(c.store.family(answerTable("f", "tool")).firstWindow).toEqual([1, 0, 0, 0, 1]);
    expect(c.store.family(answerTable("f", "reply")).firstWindow).toEqual([0, 0, 0, 0, 0]);
  });

  it("reads a table with no returns as evenly spread, and learns the tenant's shape within a few dozen", () => {
    const none = firstWindowShape({ turns: 1, own: [], family: emptyFamily(), tenant: emptyFamily() });
    for (const share of none) expect(share).toBeCloseTo(0.2, 9);
    const h = agents().history("agent-0");
    if (!h) throw new Error("no history");
    expect(firstWindowShape(h)[0]).toBeGreaterThan(0.99);
  });

  it("puts the first window's mass where its parts say", () => {
    const q = [0.9, 0.05];
    expect(cumulative(q, WINDOW_MS / 5, WINDOW_MS, [1, 0, 0, 0, 0])).toBeCloseTo(0.9, 9);
    expect(cumulative(q, WINDOW_MS / 10, WINDOW_MS, [1, 0, 0, 0, 0])).toBeCloseTo(0.45, 9);
    expect(cumulative(q, 0.9 * WINDOW_MS, WINDOW_MS, [0, 0, 0, 0, 1])).toBeCloseTo(0.45, 9);
    // Beyond the first window, as before.
    expect(cumulative(q, 1.5 * WINDOW_MS, WINDOW_MS, [1, 0, 0, 0, 0])).toBeCloseTo(0.925, 9);
    expect(cumulative(q, 0.5 * WINDOW_MS)).toBeCloseTo(0.45, 9);
  });

  it("holds an agent's conversation over a person's pause that even spreading let lapse", () => {
    const c = agents();
    // A 25K head held for the hour under a 5K conversation: each ping reads 30K to keep 5K.
    const learned = atLapse(c, "agent-0", 5_000);
    const evenly = atLapse(c, "agent-0", 5_000, true);
    expect(learned.ping).toBe(true);
    expect(evenly.ping).toBe(false);
    // At any size, knowing the returns come early makes a ping worth more: the return the even spread
    // expected in the last 20 seconds (which finds the entry without a ping) is not coming.
    for (const exposed of [3_000, 8_000, 30_000])
      expect(atLapse(c, "agent-0", exposed).expectedValue).toBeGreaterThan(
        atLapse(c, "agent-0", exposed, true).expectedValue,
      );
  });

  it("lets a conversation go whose returns come at the end of the first window anyway", () => {
    // People who answer 4.5-5 minutes after each reply: the return is likelier before the lapse than after.
    const c = new Conversations(new MemoryConversationStore());
    for (let k = 0; k < 40; k++)
      for (let turn = 0; turn < 6; turn++) request(c, `p-${k}`, k * 1000 + turn * 4.8 * MIN);
    const late = atLapse(c, "p-0", 30_000);
    const evenly = atLapse(c, "p-0", 30_000, true);
    expect(late.expectedValue).toBeLessThan(evenly.expectedValue);
  });

  it("stores the parts with the table, and reads a table stored before they were counted", () => {
    const table = agents().store.family("f");
    const blob = encodeFamily(table);
    expect(blob.byteLength).toBe(1572);
    expect(decodeFamily(blob)).toEqual(table);
    const before = decodeFamily(blob.slice(0, 1552));
    expect(before).toEqual({ ...table, firstWindow: [0, 0, 0, 0, 0] });
  });
});

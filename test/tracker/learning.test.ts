import { describe, expect, it } from "vitest";
import { HEAD_PRIOR_H, HEADS_RECUR_PRIOR, returnDistribution } from "../../src/decide/hazard.ts";
import { decideKeepalive } from "../../src/decide/keepalive.ts";
import { DEFAULT_KEEPALIVE } from "../../src/decide/keepalive-settings.ts";
import { reuseFromState, reuseFromWindows, reuseOf } from "../../src/decide/reuse.ts";
import { bestTtl, chooseTtl, hourOverFive } from "../../src/decide/write.ts";
import { modelInfo } from "../../src/economics/models.ts";
import { Conversations, HEADS_TABLE, TENANT_TABLE } from "../../src/tracker/conversation-state.ts";
import { MemoryConversationStore } from "../../src/tracker/memory.ts";

/**
 * What the tracker learns for the planner (issue #14): survival tables that count a window when it closes,
 * a tenant table under each family, a heads table, and where a return continues from. Pure state updates over
 * the replay's memory store: the Tracker runs the same code over SQLite (test/decide/differential.test.ts
 * shows the two agree request by request).
 */

const MIN = 60_000;
const SONNET = modelInfo("claude-sonnet-4-5"); // read 0.1, 5m write 1.25, 1h write 2

function fresh(): Conversations {
  return new Conversations(new MemoryConversationStore());
}

/** One request of `conversation` at `at` (the sweep first, as `recordDecisionState` does). */
function request(
  c: Conversations,
  conversation: string,
  family: string,
  at: number,
  positions: string[] = [],
  answer: "tool" | "reply" | null = null,
) {
  c.sweep(at);
  c.noteRequest(conversation, family, at, positions, answer);
}

const total = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

describe("survival tables count a window when it closes", () => {
  it("a conversation still inside its first window is neither a return nor a miss", () => {
    const c = fresh();
    request(c, "a", "f", 0);
    request(c, "b", "f", 4 * MIN); // a sweep at 4 minutes: a's first window is still open
    const table = c.store.family("f");
    expect(total(table.atRisk)).toBe(0);
    expect(total(table.returns)).toBe(0);
    // Once the window has closed on it, it counts as at risk there, with no return.
    request(c, "c", "f", 6 * MIN);
    expect(c.store.family("f").atRisk[0]).toBe(1);
    expect(total(c.store.family("f").returns)).toBe(0);
  });

  it("a return counts at risk and returned in its own window once that window closes, the windows before it once", () => {
    const c = fresh();
    request(c, "a", "f", 0);
    request(c, "a", "f", 12 * MIN); // back in window 2: windows 0 and 1 closed on it first
    const t = c.store.family("f");
    expect(t.atRisk.slice(0, 3)).toEqual([1, 1, 0]);
    expect(total(t.returns)).toBe(0);
    // Window 2 closes at 15 minutes: the return is counted with the sweep after it (another family's
    // requests run the sweeps).
    request(c, "y", "g", 14 * MIN);
    expect(total(c.store.family("f").returns)).toBe(0);
    request(c, "z", "g", 16 * MIN);
    expect(c.store.family("f").atRisk.slice(0, 3)).toEqual([1, 1, 1]);
    expect(c.store.family("f").returns.slice(0, 3)).toEqual([0, 0, 1]);
    // The same counts in the tenant table, and nothing counted twice by a later sweep.
    request(c, "x", "g", 40 * MIN);
    expect(c.store.family(TENANT_TABLE).returns.slice(0, 3)).toEqual([0, 0, 1]);
    expect(c.store.family("f").atRisk[2]).toBe(1);
  });

  it("a new tenant's first minutes do not read as if every conversation came back", () => {
    // Ten conversations 15 s apart; the first two come back 30 s later, the others never.
    const c = fresh();
    for (let k = 0; k < 10; k++) {
      request(c, `c${k}`, "f", k * 15_000);
      if (k < 2) request(c, `c${k}`, "f", k * 15_000 + 30_000);
    }
    // At 3 minutes no first window has closed: the two returns alone would read as "all come back"
    // (0.62 when counted at once); the prior stands.
    const early = c.outlook("new", "f", 3 * MIN).tail[0] as number;
    expect(early).toBeLessThan(0.35);
    // Once every window has closed: 2 of 10.
    request(c, "late", "f", 20 * MIN);
    const h = c.store.family("f");
    expect([h.atRisk[0], h.returns[0]]).toEqual([10, 2]);
  });

  it("a return still waiting for its window to close already opens second sight", () => {
    const c = fresh();
    request(c, "a", "f", 0);
    expect(c.mayReturn("new", "f")).toBe(false);
    request(c, "a", "f", 30_000);
    // Not counted in the table until 5 minutes, yet a conversation of the family has come back.
    expect(total(c.store.family("f").returns)).toBe(0);
    expect(c.mayReturn("new", "f")).toBe(true);
    expect(c.mayReturn("new", "g")).toBe(false);
  });

  it("learns fast: a family whose conversations come back within a minute overrides the prior in minutes", () => {
    const c = fresh();
    const before = c.outlook("new", "f", 0).tail[0] as number;
    for (let k = 0; k < 10; k++) {
      request(c, `c${k}`, "f", k * 2 * MIN);
      request(c, `c${k}`, "f", k * 2 * MIN + 30_000);
    }
    // What a new conversation of the family is now expected to do after its first request.
    const after = c.outlook("c10", "f", 19 * MIN).tail[0] as number;
    expect(before).toBeLessThan(0.3);
    expect(after).toBeGreaterThan(0.7);
  });
});

describe("second sight for keepalive", () => {
  it("a family whose conversation came back is not a first sight, though its return waits for its window", () => {
    const c = fresh();
    request(c, "a", "f", 0);
    request(c, "b", "f", 10_000);
    expect(c.history("b")?.familyBack).toBe(false);
    request(c, "a", "f", 60_000); // back within its first window: counted when that window closes
    expect(total(c.store.family("f").returns)).toBe(0);
    expect(c.history("b")?.familyBack).toBe(true);
  });
});

describe("the head of a family", () => {
  it("a new tenant's first head is written for the hour, and no longer after a handful of heads that never came back", () => {
    const c = fresh();
    const firstHead = reuseOf.head(undefined, 0, c.outlook("c0", "h0", 0));
    // Nothing says yet whether this tenant's heads recur: at the prior (HEADS_RECUR_PRIOR), for the hour.
    expect(c.outlook("c0", "h0", 0).headsRecur).toBeCloseTo(HEADS_RECUR_PRIOR, 9);
    expect(bestTtl(SONNET, 3000, firstHead, true)).toBe("1h");
    // Ten requests, each with a unique 3,000-token system prompt (a new family), six minutes apart.
    for (let k = 0; k < 10; k++) request(c, `c${k}`, `h${k}`, k * 6 * MIN);
    request(c, "later", "h-later", 70 * MIN);
    expect(total(c.store.family(HEADS_TABLE).atRisk)).toBeGreaterThan(10);
    const learned = reuseOf.head(undefined, 0, c.outlook("next", "h-next", 70 * MIN));
    expect(learned.p5m).toBeLessThan(0.2);
    expect(bestTtl(SONNET, 3000, learned, true)).toBeNull();
  });

  it("two heads whose first windows close without a return end the hour for new heads", () => {
    const c = fresh();
    request(c, "a", "h-a", 0);
    c.sweep(5.5 * MIN);
    // One miss: recurring heads miss their first window 11 % of the time, so still more likely than not.
    const one = c.outlook("x", "h-x", 5.5 * MIN).headsRecur;
    expect(one).toBeLessThan(HEADS_RECUR_PRIOR);
    expect(bestTtl(SONNET, 3000, reuseOf.head(undefined, 0, c.outlook("x", "h-x", 5.5 * MIN)), true)).toBe(
      "1h",
    );
    request(c, "b", "h-b", 5.5 * MIN);
    c.sweep(11 * MIN);
    const two = c.outlook("y", "h-y", 11 * MIN);
    expect(two.headsRecur).toBeLessThan(0.15);
    const reuse = reuseOf.head(undefined, 0, two);
    expect(bestTtl(SONNET, 3000, reuse, true)).not.toBe("1h");
    // One head coming back settles it: the heads recur.
    request(c, "b2", "h-b", 12 * MIN);
    expect(c.outlook("z", "h-z", 12 * MIN).headsRecur).toBe(1);
  });
});

describe("a new head, when the tenant's heads come back within seconds", () => {
  it("is written for 5m once a few returns have shown it, though no window has closed", () => {
    const c = fresh();
    // Two documents (each its own head), each asked about three times, 10 seconds apart.
    for (let k = 0; k < 2; k++)
      for (let q = 0; q < 3; q++) request(c, `c${k}-${q}`, `doc${k}`, k * 2_000 + q * 10_000);
    const at = 27_000;
    const reuse = reuseOf.head(undefined, 0, c.outlook("x", "docX", at), at);
    // Four returns within seconds, over about two minutes at risk: a gap of 5 minutes is rare at that rate.
    expect(bestTtl(SONNET, 16_000, reuse, true)).toBe("5m");
    // The windows' hazards alone (four returns against the prior, no window closed) would still buy the hour.
    const { lapse: _lapse, ...windowsOnly } = reuse;
    expect(bestTtl(SONNET, 16_000, windowsOnly, true)).toBe("1h");
    // A new tenant's first head, with nothing to go on, is still written for the hour.
    expect(
      bestTtl(SONNET, 16_000, reuseOf.head(undefined, 0, fresh().outlook("y", "docY", 0), 0), true),
    ).toBe("1h");
  });
});

describe("a head seen before", () => {
  it("is judged by how the tenant's heads come back, not by its own count alone", () => {
    const c = fresh();
    // Ten documents (each its own head), each asked about three times, 12 minutes apart: beyond a 5m entry,
    // well within a 1h one.
    for (let k = 0; k < 10; k++)
      for (let q = 0; q < 3; q++) request(c, `c${k}-${q}`, `doc${k}`, k * MIN + q * 12 * MIN);
    // A new document asked about once, then again after its 5m entry lapsed.
    request(c, "x-0", "docX", 40 * MIN);
    c.sweep(52 * MIN);
    const state = { tokens: 50_000, seen: 1, lastSeenMs: 40 * MIN, cachedUntilMs: null, ttl: null };
    const reuse = reuseOf.head(state, 0, c.outlook("x-1", "docX", 52 * MIN));
    expect(bestTtl(SONNET, 50_000, reuse, true)).toBe("1h");
    // Its own count alone (one use, no gaps yet) would not write it for an hour.
    expect(bestTtl(SONNET, 50_000, reuseFromState(state, false), true)).not.toBe("1h");
  });
});

describe("a head coming back with this request is evidence before the tracker records it", () => {
  it("opens the hour for a new tenant's head that returns after its 5m entry lapsed", () => {
    const c = fresh();
    // A new tenant: two documents asked about at 0, one of them again at 8 minutes. Neither has come back as far
    // as the tracker knows, and both first windows have closed: little says the tenant's heads recur.
    request(c, "q0", "doc", 0);
    request(c, "p0", "other", 0);
    c.sweep(6 * MIN);
    const outlook = c.outlook("q1", "doc", 6 * MIN);
    expect(outlook.headsRecur).toBeLessThan(0.15);
    const state = { tokens: 50_000, seen: 1, lastSeenMs: 0, cachedUntilMs: null, ttl: null };
    const now = reuseOf.head(state, 0, outlook, 8 * MIN);
    expect(bestTtl(SONNET, 50_000, now, true)).toBe("1h");
    // The same head unseen (a first sight) is not written for the hour on so little.
    const unseen = reuseOf.head(undefined, 0, outlook, 8 * MIN);
    expect(unseen.p1h - unseen.p5m).toBeLessThan(0.02);
    expect(bestTtl(SONNET, 50_000, unseen, true)).not.toBe("1h");
  });

  it("counts the idle time it ends as one more of the head's own gaps", () => {
    const c = fresh();
    // A head that came back within a minute twice: its own gaps say "soon".
    for (const at of [0, 0.5 * MIN, 1 * MIN]) request(c, `q${at}`, "h", at);
    const outlook = c.outlook("next", "h", 1 * MIN);
    const state = { tokens: 6_000, seen: 3, lastSeenMs: 1 * MIN, cachedUntilMs: null, ttl: null };
    const soon = reuseOf.head(state, 0, outlook, 1.5 * MIN);
    const late = reuseOf.head(state, 0, outlook, 10 * MIN);
    // Coming back after 9 idle minutes moves the next return's mass out of the first window.
    expect(late.p5m).toBeLessThan(soon.p5m - 0.1);
    expect(late.windows?.[1] ?? 0).toBeGreaterThan((soon.windows?.[1] ?? 0) + 0.1);
    // Without the time of this request, the head's outlook is what the tracker last said.
    expect(reuseOf.head(state, 0, outlook).p5m).toBeCloseTo(outlook.head[0] as number, 9);
  });
});

describe("a deploy with a shorter TTL", () => {
  it("counts the idle time a head's request ends in the tracker's windows, not in 5-minute ones", () => {
    // ANTHROPIC_CACHE_TTL_SECONDS=60: the tracker's windows are a minute wide.
    const c = new Conversations(new MemoryConversationStore(), MIN);
    for (const at of [0, 0.25 * MIN, 0.5 * MIN]) request(c, `q${at}`, "h", at);
    const outlook = c.outlook("next", "h", 0.5 * MIN);
    expect(outlook.windowMs).toBe(MIN);
    const state = { tokens: 6_000, seen: 3, lastSeenMs: 0.5 * MIN, cachedUntilMs: null, ttl: null };
    const soon = reuseOf.head(state, 0, outlook, 0.75 * MIN);
    // Back after 2.5 idle minutes: the third one-minute window.
    const late = reuseOf.head(state, 0, outlook, 3 * MIN);
    expect(late.windows?.[2] ?? 0).toBeGreaterThan((soon.windows?.[2] ?? 0) + 0.1);
  });
});

describe("misses on heads teach the whole head prior", () => {
  it("unique system prompts stop being written once the first windows close, not an hour later", () => {
    const c = fresh();
    // A unique 3,000-token system prompt (a new family) every 30 seconds for 20 minutes: only windows 0-2 of
    // the earliest heads have closed, but none of those heads came back in them.
    for (let k = 0; k < 40; k++) request(c, `c${k}`, `h${k}`, k * 30_000);
    c.sweep(20 * MIN);
    const scaled = reuseOf.head(undefined, 0, c.outlook("next", "h-next", 20 * MIN));
    expect(bestTtl(SONNET, 3000, scaled, true)).toBeNull();
    // The same table read against the unscaled prior: the windows that have not closed yet would still
    // promise a return within the hour, and every new head would be written for an hour.
    const table = c.store.family(HEADS_TABLE);
    const unscaled = returnDistribution({ turns: 1, own: [], family: table, tenant: null }, HEAD_PRIOR_H);
    expect(bestTtl(SONNET, 3000, reuseFromWindows(unscaled, false), true)).toBe("1h");
  });
});

describe("where a return continues from", () => {
  it("counts which of the previous request's last positions the next one sent again", () => {
    const c = fresh();
    // Each return replaces the last position (a partial last block) but keeps the one before it.
    for (let k = 0; k < 20; k++) {
      request(c, `c${k}`, "f", k * MIN, ["p0", `p1-${k}`, `p2-${k}`, `last-${k}`]);
      request(c, `c${k}`, "f", k * MIN + 10_000, ["p0", `p1-${k}`, `p2-${k}`, `x-${k}`, `y-${k}`]);
    }
    const reach = c.outlook("c0", "f", 20 * MIN).reach;
    expect(reach[0]).toBeLessThan(0.1);
    expect(reach[1]).toBeGreaterThan(0.9);
    expect(reach[2]).toBeGreaterThan(0.9);
  });
});

describe("5m, 5m held by pings, or 1h", () => {
  const size = { added: 500, exposed: 30_000, total: 50_000 };
  const windows = (w: number[]) => ({ p5m: w[0] ?? 0, p1h: total(w), once: true, windows: w });

  it("5m when the next turn comes at once", () => {
    expect(chooseTtl(SONNET, windows([0.95, 0]), true, size)?.lasting).toBe("5m");
  });

  it("1h when a long prefix's next turn comes after a pause of minutes to an hour", () => {
    const late = windows([0.05, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0, 0]);
    expect(chooseTtl(SONNET, late, true, size)).toMatchObject({ ttl: "1h", lasting: "1h" });
    // Where the tenant does not allow 1h, pings cannot hold it that long for less than they save: nothing.
    expect(chooseTtl(SONNET, late, false, size)).toBeNull();
  });

  it("5m held by pings when the next turn tends to come just after the first 5 minutes", () => {
    // A long new tail: 1h's premium on 20,000 new tokens costs more than one ping of the whole prefix.
    const justAfter = windows([0.3, 0.6, 0.02, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const longTail = { added: 20_000, exposed: 30_000, total: 50_000 };
    expect(chooseTtl(SONNET, justAfter, true, longTail)).toMatchObject({ ttl: "5m", lasting: "5m+pings" });
    // A short one: 1h is cheaper than the ping.
    expect(chooseTtl(SONNET, justAfter, true, size)).toMatchObject({ ttl: "1h", lasting: "1h" });
  });

  it("nothing when nothing comes back", () => {
    expect(chooseTtl(SONNET, windows([0.01, 0.01]), true, size)).toBeNull();
  });
});

describe("1h or 5m for a head used again and again", () => {
  const head = (w: number[]) => reuseFromWindows(w, false);
  const later = (share: number) => new Array<number>(11).fill(share / 11);

  it("1h when a lapse between 5 minutes and the hour is likely before its uses end", () => {
    // Back within 5 minutes 60 % of the time, always within the hour: a 5m entry soon lapses.
    expect(bestTtl(SONNET, 50_000, head([0.6, ...later(0.4)]), true)).toBe("1h");
    expect(hourOverFive(SONNET, head([0.6, ...later(0.4)]))).toBeGreaterThan(0);
  });

  it("5m when such a lapse is possible but unlikely within the hour's uses", () => {
    // Back within 5 minutes 99.5 % of the time: the 1h premium is certain, the lapse it saves is not (judged
    // per use in steady state, as the planner did before hourOverFive, 1h would win: it never lapses).
    const busy = head([0.995, ...later(0.005)]);
    expect(hourOverFive(SONNET, busy)).toBeLessThan(0);
    expect(bestTtl(SONNET, 50_000, busy, true)).toBe("5m");
  });

  it("not 1h when half its returns never come: the uses end before a lapse does", () => {
    expect(bestTtl(SONNET, 50_000, head([0.3, ...later(0.2)]), true)).toBe("5m");
  });

  it("a tenant whose heads come back within seconds writes its next new head for 5m", () => {
    const c = fresh();
    // Ten documents, each asked about every 10 seconds for two minutes.
    for (let t = 0; t <= 2 * MIN; t += 10_000)
      for (let k = 0; k < 10; k++) request(c, `c${k}-${t}`, `doc${k}`, t);
    const reuse = reuseOf.head(undefined, 0, c.outlook("x", "docX", 2 * MIN));
    expect(reuse.p5m).toBeGreaterThan(0.98);
    expect(bestTtl(SONNET, 50_000, reuse, true)).toBe("5m");
  });
});

describe("a head still inside its first window counts at risk for the time it has been open", () => {
  it("a new tenant whose first heads have mostly not come back yet is not read as more likely to than the prior", () => {
    const c = fresh();
    // Ten documents in the first 45 seconds; two of them asked about again 20 seconds later.
    for (let k = 0; k < 10; k++) request(c, `c${k}`, `doc${k}`, k * 5_000);
    for (const k of [0, 1]) request(c, `again${k}`, `doc${k}`, k * 5_000 + 20_000);
    const prior = HEAD_PRIOR_H[0]?.[0] as number;
    // The two returns are counted at once; the eight heads still open count as at risk for their share of the
    // window, so the tenant's heads read below the prior (without them: above it, 2 returns of 2).
    expect(c.outlook("x", "docX", MIN).head[0]).toBeLessThan(prior);
    // The same table once no head is open any more (and none came back again): lower still.
    expect(c.outlook("x", "docX", 5.9 * MIN).head[0]).toBeLessThan(
      c.outlook("x", "docX", MIN).head[0] as number,
    );
  });
});

describe("how an answer ended narrows what keepalive expects (issue #14: the answer's stop reason)", () => {
  /**
   * A family where every answer that called a tool came back after 8 minutes (a build) and every reply was
   * the end of its conversation; then one conversation of each kind, idle for 4.6 minutes with a 20,000-token
   * entry about to lapse.
   */
  function agent(answers: boolean) {
    const c = fresh();
    const end = (a: "tool" | "reply") => (answers ? a : null);
    for (let i = 0; i < 20; i++) {
      const at = i * 2 * MIN;
      request(c, `tool-${i}`, "f", at, [], end("tool"));
      request(c, `reply-${i}`, "f", at + 1000, [], end("reply"));
      request(c, `tool-${i}`, "f", at + 8 * MIN, [], end("reply"));
    }
    const now = 3 * 60 * MIN;
    request(c, "T", "f", now, [], end("tool"));
    request(c, "R", "f", now + 1000, [], end("reply"));
    const decide = (conversation: string, lastUseMs: number) =>
      decideKeepalive(
        { tokens: 20_000, ttl: "5m", lastUseMs, pingsSoFar: 0 },
        c.history(conversation) ?? { turns: 1, own: [], family: null },
        lastUseMs + 4.6 * MIN,
        SONNET,
        { ...DEFAULT_KEEPALIVE, maxUsdPerDay: 1e9 },
        0,
      );
    const q = (conversation: string) =>
      returnDistribution(c.history(conversation) ?? { turns: 1, own: [], family: null });
    return { c, tool: decide("T", now), reply: decide("R", now + 1000), qTool: q("T"), qReply: q("R") };
  }

  it("learns each kind's returns apart and keeps the tool call's entry through the build, not the reply's", () => {
    const told = agent(true);
    // Where the answers came back, by kind: a tool call in window 1 (5-10 minutes), a reply never.
    expect(told.qTool[1]).toBeGreaterThan(0.5);
    expect(told.qReply[1]).toBeLessThan(0.1);
    expect(total(told.qReply)).toBeLessThan(0.2);
    expect(told.tool).toMatchObject({ ping: true, reason: "pays" });
    expect(told.reply.ping).toBe(false);
    // The family's pooled table (what the planner reads before the answer exists) learns from both kinds.
    expect(told.c.store.family("f").returns[0 * 12 + 1]).toBe(20);
  });

  it("without the answers both read the pooled table alike", () => {
    const blind = agent(false);
    expect(blind.qTool).toEqual(blind.qReply);
    expect(blind.tool.ping).toBe(blind.reply.ping);
  });
});

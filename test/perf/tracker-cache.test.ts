import { beforeEach, describe, expect, it } from "vitest";
import type { PrefixState } from "../../src/plan/types.ts";
import { forgetResolved } from "../../src/tenants/resolve.ts";
import {
  cachedAnswer,
  FRESH_MS,
  forgetAllBeliefs,
  forgetConversations,
  heldAnswer,
  heldStates,
  learn,
  learnOutcome,
  MAX_FAMILIES,
  MAX_STATES,
} from "../../src/tracker/client-cache.ts";
import type { RecordRequest } from "../../src/tracker/types.ts";

const T0 = 1_800_000_000_000;
const scope = { family: "fam-aaaaaaaa", conversation: "conv-aaaaaaaa", model: "claude-sonnet-4-5" };

/** A lookup's answer with these states (a family rate of 0, no calibration). */
const ans = (states: Record<string, PrefixState>) => ({ states, familyRatePerMin: 0 });

function state(over: Partial<PrefixState> = {}): PrefixState {
  return {
    tokens: 1000,
    seen: 2,
    lastSeenMs: T0,
    cachedUntilMs: T0 + 300_000,
    ttl: "5m",
    gaps: { count: 1, within5m: 1, within1h: 1 },
    ...over,
  };
}

describe("the isolate's cache of tracker answers", () => {
  beforeEach(() => forgetAllBeliefs());

  it("answers a conversation it heard about within FRESH_MS, and asks again after", () => {
    learn("t1", scope, ["h1", "h2"], ans({ h1: state() }), T0);
    const fresh = cachedAnswer("t1", scope, ["h1", "h2", "h3"], T0 + FRESH_MS);
    expect(fresh?.known.get("h1")).toEqual(state());
    // Unknown to the tracker when it answered, and the conversation was heard of since: absent.
    expect(fresh?.known.has("h2")).toBe(false);
    expect(fresh?.known.has("h3")).toBe(false);
    expect(cachedAnswer("t1", scope, ["h1"], T0 + FRESH_MS + 1)).toBeNull();
    expect(cachedAnswer("t1", scope, ["h1"], T0 + FRESH_MS)).not.toBeNull();
    expect(cachedAnswer("t1", scope, ["h1"], T0 + FRESH_MS + 1)).toBeNull();
    expect(cachedAnswer("t2", scope, ["h1"], T0)).toBeNull();
  });

  it("never answers for a conversation it has not heard about", () => {
    learn("t1", scope, ["h1"], ans({ h1: state() }), T0);
    expect(cachedAnswer("t1", { ...scope, conversation: "conv-other" }, ["h1"], T0 + 1)).toBeNull();
  });

  it("asks again when one of the request's known hashes is older than FRESH_MS", () => {
    learn("t1", { ...scope, conversation: "conv-old" }, ["head"], ans({ head: state() }), T0);
    learn("t1", scope, ["h1"], ans({ h1: state() }), T0 + FRESH_MS);
    expect(cachedAnswer("t1", scope, ["h1"], T0 + FRESH_MS + 10)).not.toBeNull();
    expect(cachedAnswer("t1", scope, ["head", "h1"], T0 + FRESH_MS + 10)).toBeNull();
  });

  it("reads an entry past its cachedUntil as not cached, as the tracker would", () => {
    learn("t1", scope, ["h1"], ans({ h1: state({ cachedUntilMs: T0 + 5 }) }), T0);
    const later = cachedAnswer("t1", scope, ["h1"], T0 + 6)?.known.get("h1");
    expect(later?.cachedUntilMs).toBeNull();
    expect(later?.ttl).toBeNull();
    expect(later?.tokens).toBe(1000);
  });

  it("keeps one tenant's answers from another tenant, even for equal hashes", () => {
    learn("tenant-a", scope, ["h1"], ans({ h1: state({ tokens: 111 }) }), T0);
    expect(cachedAnswer("tenant-b", scope, ["h1"], T0 + 1)).toBeNull();
    learn("tenant-b", scope, ["h1"], ans({}), T0);
    expect(cachedAnswer("tenant-b", scope, ["h1"], T0 + 1)?.known.size).toBe(0);
    expect(cachedAnswer("tenant-a", scope, ["h1"], T0 + 1)?.known.get("h1")?.tokens).toBe(111);
    forgetConversations("tenant-a");
    expect(cachedAnswer("tenant-a", scope, ["h1"], T0 + 1)).toBeNull();
    expect(cachedAnswer("tenant-b", scope, ["h1"], T0 + 1)?.known.size).toBe(0);
  });

  it("does not let an older answer replace a newer one", () => {
    learn("t1", scope, ["h1"], ans({ h1: state({ seen: 5 }) }), T0 + 10);
    learn("t1", scope, ["h1"], ans({ h1: state({ seen: 4 }) }), T0);
    expect(cachedAnswer("t1", scope, ["h1"], T0 + 20)?.known.get("h1")?.seen).toBe(5);
    // A newer answer that no longer knows the hash forgets it.
    learn("t1", scope, ["h1"], ans({}), T0 + 30);
    expect(cachedAnswer("t1", scope, ["h1"], T0 + 40)?.known.has("h1")).toBe(false);
  });

  it("applies the isolate's own outcome at once, with the tracker's own update, for a conversation it heard of", () => {
    const record = (over: Partial<RecordRequest>): RecordRequest =>
      ({
        tenantId: "t1",
        requestId: "r1",
        at: T0 + 1000,
        upstream: "anthropic",
        endpoint: "messages",
        model: scope.model,
        stream: false,
        keepalive: false,
        status: 200,
        result: "ok",
        usage: {
          inputTokens: 2000,
          uncachedTokens: 1000,
          cacheReadTokens: 0,
          cacheWrite5mTokens: 1000,
          cacheWrite1hTokens: 0,
          outputTokens: 10,
        },
        estimatedTokens: 2000,
        family: scope.family,
        conversation: scope.conversation,
        positions: [
          { hash: "h1", tokens: 1000, breakpoint: "5m" },
          { hash: "h2", tokens: 2000, breakpoint: null },
        ],
        messageId: "msg_1",
        ...over,
      }) as RecordRequest;
    // Not heard of: only the message id is kept (as the tracker keeps the model's last answer).
    learnOutcome("t1", record({}), 300_000, T0 + 1000);
    expect(cachedAnswer("t1", scope, ["h1", "h2"], T0 + 2000)).toBeNull();
    expect(heldAnswer("t1", { ...scope, conversation: "other" }, ["h1"], T0 + 2000)?.previousMessageId).toBe(
      "msg_1",
    );
    // Heard of (a lookup said it knew nothing, rate 0): the outcome makes h1 written, h2 seen, the rate 1/min.
    learn("t1", scope, ["h1", "h2"], ans({}), T0);
    learnOutcome("t1", record({ requestId: "r2" }), 300_000, T0 + 1000);
    const got = cachedAnswer("t1", scope, ["h1", "h2"], T0 + 2000);
    expect(got?.known.get("h1")?.cachedUntilMs).toBe(T0 + 1000 + 300_000);
    expect(got?.known.get("h1")?.seen).toBe(1);
    expect(got?.known.get("h2")?.cachedUntilMs).toBeNull();
    expect(got?.familyRatePerMin).toBeGreaterThan(0.9);
    expect(got?.calibration?.weight).toBeGreaterThan(0);
    // The tracker's answer to the record, heard later, replaces it.
    learn("t1", scope, ["h1", "h2"], ans({ h1: state({ seen: 7 }) }), T0 + 1500);
    expect(cachedAnswer("t1", scope, ["h1", "h2"], T0 + 2000)?.known.get("h1")?.seen).toBe(7);
  });

  it("answers a conversation it has not heard of from the states it holds of its positions", () => {
    learn("t1", scope, ["head", "own"], ans({ head: state(), own: state() }), T0);
    const other = { ...scope, conversation: "conv-bbbbbbbb" };
    expect(cachedAnswer("t1", other, ["head", "new"], T0 + 10)).toBeNull();
    const held = heldAnswer("t1", other, ["head", "new"], T0 + 10);
    expect([...(held?.known.keys() ?? [])]).toEqual(["head"]);
    expect(held?.familyRatePerMin).toBe(0);
    // Past its TTL an entry reads as lapsed, however old the word on it.
    expect(heldAnswer("t1", other, ["head"], T0 + 400_000)?.known.get("head")?.cachedUntilMs).toBeNull();
    expect(heldAnswer("t2", other, ["head"], T0)).toBeNull();
  });

  it("stays within MAX_STATES, dropping the least recently used tenant whole", () => {
    const hashes = Array.from({ length: MAX_STATES / 2 }, (_, i) => `h${i}`);
    const answer = Object.fromEntries(hashes.map((h) => [h, state()]));
    learn("old", scope, hashes, ans(answer), T0);
    learn("new", scope, hashes, ans(answer), T0);
    expect(heldStates()).toBe(MAX_STATES);
    learn("newest", scope, ["x"], ans({ x: state() }), T0);
    expect(heldStates()).toBeLessThanOrEqual(MAX_STATES);
    // The evicted tenant asks its tracker again rather than reading a dropped hash as unknown.
    expect(cachedAnswer("old", scope, ["h1"], T0 + 1)).toBeNull();
    expect(cachedAnswer("new", scope, ["h1"], T0 + 1)?.known.get("h1")).toEqual(state());
    expect(cachedAnswer("newest", scope, ["x"], T0 + 1)?.known.get("x")).toEqual(state());
  });

  it("answers with the family's rate and the model's calibration it heard with the states", () => {
    const calibration = { ratio: 0.8, weight: 5000 };
    learn("t1", scope, ["h1"], { states: { h1: state() }, familyRatePerMin: 22, calibration }, T0);
    const cached = cachedAnswer("t1", scope, ["h1"], T0 + 1);
    // Decayed to the time asked, as the tracker would answer it (a one-minute time constant).
    expect(cached?.familyRatePerMin).toBeCloseTo(22 * Math.exp(-1 / 60_000), 9);
    expect(cachedAnswer("t1", scope, ["h1"], T0 + 10_000)?.familyRatePerMin).toBeCloseTo(
      22 * Math.exp(-10_000 / 60_000),
      9,
    );
    expect(cached?.calibration).toEqual(calibration);
    // A newer answer for another conversation of the family moves the rate for every conversation.
    learn(
      "t1",
      { ...scope, conversation: "conv-bbbbbbbb" },
      [],
      { states: {}, familyRatePerMin: 30 },
      T0 + 5,
    );
    expect(cachedAnswer("t1", scope, ["h1"], T0 + 6)?.familyRatePerMin).toBeCloseTo(
      30 * Math.exp(-1 / 60_000),
      9,
    );
    expect(cachedAnswer("t1", scope, ["h1"], T0 + 6)?.calibration).toBeUndefined();
    // No word on this model: ask the tracker.
    expect(cachedAnswer("t1", { ...scope, model: "gpt-5.4" }, ["h1"], T0 + 6)).toBeNull();
    // An answer without plan facts (a lookup without scope) makes nothing fresh.
    learn("t2", scope, ["h1"], { states: { h1: state() } }, T0);
    expect(cachedAnswer("t2", scope, ["h1"], T0 + 1)).toBeNull();
  });

  it("keeps a bounded number of family rates per tenant, asking again for the dropped ones", () => {
    for (let i = 0; i <= MAX_FAMILIES; i++)
      learn("t1", { ...scope, family: `fam-${i}` }, [], ans({}), T0 + i);
    expect(cachedAnswer("t1", { ...scope, family: "fam-0" }, [], T0 + MAX_FAMILIES)).toBeNull();
    const last = { ...scope, family: `fam-${MAX_FAMILIES}` };
    expect(cachedAnswer("t1", last, [], T0 + MAX_FAMILIES)?.familyRatePerMin).toBe(0);
  });

  it("forgets everything when tenants change (a key revoked or rotated, a tenant deleted)", () => {
    learn("t1", scope, ["h1"], ans({ h1: state() }), T0);
    forgetResolved();
    expect(cachedAnswer("t1", scope, ["h1"], T0 + 1)).toBeNull();
    expect(heldStates()).toBe(0);
  });
});

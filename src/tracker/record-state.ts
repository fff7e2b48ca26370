import type { Sealed } from "../core/crypto.ts";
import type { PositionBelief } from "./belief.ts";
import type { Conversations } from "./conversation-state.ts";
import type { KeepaliveCandidates } from "./keepalive-store.ts";
import { notePlanInputs, type PlanInputStore } from "./plan-inputs.ts";
import { type PrefixRow, type PrefixUpdate, prefixUpdate, toState } from "./prefix-update.ts";
import type { KeepaliveCapture, LookupResult, PlanFacts, RecordRequest } from "./types.ts";

/** The prefixes' rows: SQLite in the Tracker, memory in the replay. */
export interface PrefixStore {
  rows(hashes: readonly string[]): Map<string, PrefixRow>;
  apply(r: RecordRequest, update: PrefixUpdate): void;
}

/** Everything a record changes that later decisions read. */
export interface DecisionState {
  prefixes: PrefixStore;
  conversations: Conversations;
  keepalive: KeepaliveCandidates;
  planInputs: PlanInputStore;
}

/**
 * The capture a record keeps for keepalive pings, or null: none when keepalive is off, and none for a
 * conversation's first request in a family no conversation has come back to (second sight: it would never be
 * pinged, so sealing and storing it would be wasted work).
 */
export function captureWorthKeeping(
  conversations: Conversations,
  r: RecordRequest,
  keepaliveOn: boolean,
): KeepaliveCapture | null {
  if (!r.capture || !keepaliveOn) return null;
  return conversations.mayReturn(r.capture.conversation, r.family) ? r.capture : null;
}

/** A position the provider read or wrote: the kind of entry a keepalive candidate points at. */
function kept(b: PositionBelief | undefined): b is PositionBelief & { cachedUntil: number } {
  return b !== undefined && (b.read || b.written) && b.cachedUntil !== null;
}

/**
 * Tokens of the deepest entry the request left that outlives `b` (a head written for the hour under a 5m
 * tail; a read restarts an entry's own TTL, so the rows say when each lapses): a lapse of `b` does not lose
 * them, so a ping that holds `b` saves only what lies beyond.
 */
function heldLonger(rows: readonly PrefixRow[], b: PositionBelief & { cachedUntil: number }): number {
  let held = 0;
  for (const x of rows)
    if (x.cached_until !== null && x.cached_until > b.cachedUntil && x.tokens < b.tokens)
      held = Math.max(held, x.tokens);
  return held;
}

/**
 * What one accounted request teaches the decisions: its family's rate and the model's calibration, beliefs
 * of its positions, its conversation's rhythm and family survival, and its keepalive candidate (`sealed`: its
 * captured request, when one is kept). Fills `states` with what a lookup at the request's start would now
 * answer, and returns the plan facts it wrote (null when it counts none). The Tracker runs it inside its
 * transaction, the replay over memory: one code path, two stores.
 */
export function recordDecisionState(
  state: DecisionState,
  r: RecordRequest,
  shortTtlMs: number,
  /** `sealed` null: the edge holds the request back, to follow in `keepCaptures`. */
  capture: { capture: KeepaliveCapture; sealed: Sealed | null } | null,
  states: LookupResult,
): PlanFacts | null {
  const facts = notePlanInputs(state.planInputs, r);
  const tracked = r.family !== null && r.positions.length > 0;
  let beliefs = new Map<string, PositionBelief>();
  let rows: PrefixRow[] = [];
  if (tracked) {
    const update = prefixUpdate(r, state.prefixes.rows(r.positions.map((p) => p.hash)), shortTtlMs);
    state.prefixes.apply(r, update);
    for (const c of update.changes) states[c.row.hash] = toState(c.row, r.at);
    beliefs = update.beliefs;
    rows = update.changes.map((c) => c.row);
  }
  if (r.conversation !== null && r.family !== null && r.result === "ok") {
    state.conversations.sweep(r.at);
    state.conversations.noteRequest(
      r.conversation,
      r.family,
      r.at,
      r.positions.map((p) => p.hash),
      r.answer ?? null,
    );
  }
  const b = capture ? beliefs.get(capture.capture.hash) : undefined;
  if (capture && kept(b) && r.family !== null) {
    state.keepalive.upsert({
      conversation: capture.capture.conversation,
      hash: capture.capture.hash,
      family: r.family,
      upstream: r.upstream,
      model: r.model,
      tokens: b.tokens,
      exposed: b.tokens - heldLonger(rows, b),
      sealed: capture.sealed,
      ttl: capture.capture.ttl,
      at: r.at,
      cachedUntil: b.cachedUntil,
    });
  }
  return facts;
}

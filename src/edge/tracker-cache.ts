import type { PlanLookup, PlanScope } from "../plan/context.ts";
import type { Outlook, PrefixState } from "../plan/types.ts";
import type { Calibration } from "../prefix/tokens.ts";
import { tenantEpoch } from "../tenants/epoch.ts";
import { rateAt } from "../tracker/plan-inputs.ts";
import type { LookupAnswer } from "../tracker/types.ts";

/**
 * How long an isolate plans a conversation's requests from what the tracker last told it about that
 * conversation (a lookup's answer, or the answer to one of its own records) instead of asking again.
 */
export const FRESH_MS = 15_000;
/** States kept per isolate, over all tenants; beyond it the least recently used tenant's go first. */
export const MAX_STATES = 20_000;
/** Conversations remembered per tenant. */
const MAX_CONVERSATIONS = 2_000;
/** Family rates remembered per tenant. */
export const MAX_FAMILIES = 2_000;
/** Model calibrations remembered per tenant. */
const MAX_MODELS = 64;

/**
 * Which conversation a lookup or record is for: freshness is per conversation, in-flight records per family;
 * the family's rate and the model's calibration come with every answer.
 */
export type BeliefScope = PlanScope;

interface Known {
  state: PrefixState;
  /** When the tracker said so (edge clock, when the question was sent: never later than the answer). */
  at: number;
}

/**
 * What one tenant's tracker said, as this isolate last heard it. A chain hash covers everything before its
 * position, so a position past a conversation's first message belongs to that conversation only: when the
 * isolate heard from the tracker about a conversation within FRESH_MS, a position of it that the isolate
 * does not know was unknown to the tracker too, unless another isolate recorded it meanwhile (that request
 * is then planned without it, the record's answer brings it in). Records this isolate has sent and not yet
 * seen answered are waited for (`pending`): their answers are what the tracker would say next.
 */
class TenantBeliefs {
  readonly states = new Map<string, Known>();
  /** Conversation -> when the tracker last answered about it. */
  readonly conversations = new Map<string, number>();
  /** Family -> this isolate's records of it not answered yet. */
  readonly inflight = new Map<string, Set<Promise<void>>>();
  /** Family -> its requests per minute, as the tracker last said. */
  readonly rates = new Map<string, { rate: number; at: number }>();
  /** Model -> the tenant's calibration for it (undefined: the tracker has none yet). */
  readonly calibrations = new Map<string, { calibration: Calibration | undefined; at: number }>();
  /** Conversation -> the last answer's message id the tracker named (cache diagnostics). */
  readonly messages = new Map<string, { id: string; at: number }>();
  /** Conversation -> when its tails and its family's heads come back, as the tracker last said. */
  readonly outlooks = new Map<string, { outlook: Outlook; at: number }>();
}

/** Sets `key` as the most recently heard of, if `at` is not older than what is kept; drops the oldest past `max`. */
function remember<V extends { at: number }>(map: Map<string, V>, key: string, value: V, max: number): void {
  const prev = map.get(key);
  if (prev && prev.at > value.at) return;
  map.delete(key);
  map.set(key, value);
  if (map.size > max) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
}

const tenants = new Map<string, TenantBeliefs>();
let stateCount = 0;
let epoch = tenantEpoch();

/** An admin change of tenants (a key revoked or rotated, a tenant deleted) in this isolate drops everything. */
function checkEpoch(): void {
  const now = tenantEpoch();
  if (now === epoch) return;
  epoch = now;
  forgetAllBeliefs();
}

function beliefsOf(tenantId: string, create: true): TenantBeliefs;
function beliefsOf(tenantId: string, create: false): TenantBeliefs | undefined;
function beliefsOf(tenantId: string, create: boolean): TenantBeliefs | undefined {
  let t = tenants.get(tenantId);
  if (t) {
    // Most recently used last, so eviction takes the first.
    tenants.delete(tenantId);
    tenants.set(tenantId, t);
  } else if (create) {
    t = new TenantBeliefs();
    tenants.set(tenantId, t);
  }
  return t;
}

/** Whether the tracker answered about `conversation` within FRESH_MS of `nowMs` (only then can the cache). */
export function heardOf(tenantId: string, conversation: string, nowMs: number): boolean {
  checkEpoch();
  const heard = tenants.get(tenantId)?.conversations.get(conversation);
  return heard !== undefined && nowMs - heard <= FRESH_MS;
}

/**
 * What the cache can answer for `hashes` of one request, or null when it must ask the tracker: no fresh
 * word on the conversation, or a state, the family's rate or the model's calibration older than FRESH_MS.
 * Unknown hashes are absent, as in a lookup's answer; entries past their `cachedUntilMs` at `nowMs` read as
 * not cached, as the tracker would say.
 */
export function cachedAnswer(
  tenantId: string,
  scope: BeliefScope,
  hashes: readonly string[],
  nowMs: number,
): PlanLookup | null {
  checkEpoch();
  const t = beliefsOf(tenantId, false);
  if (!t) return null;
  const heard = t.conversations.get(scope.conversation);
  if (heard === undefined || nowMs - heard > FRESH_MS) return null;
  const rate = t.rates.get(scope.family);
  const calibration = t.calibrations.get(scope.model);
  if (!rate || nowMs - rate.at > FRESH_MS || !calibration || nowMs - calibration.at > FRESH_MS) return null;
  const out = new Map<string, PrefixState>();
  for (const h of hashes) {
    const k = t.states.get(h);
    if (!k) continue;
    if (nowMs - k.at > FRESH_MS) return null;
    const s = k.state;
    const cached = s.cachedUntilMs !== null && s.cachedUntilMs > nowMs;
    out.set(h, cached ? s : { ...s, cachedUntilMs: null, ttl: null });
  }
  // The rate as the tracker would answer now: the remembered one decays from the time it was heard.
  const answer: PlanLookup = { known: out, familyRatePerMin: rateAt(rate, nowMs) };
  const message = t.messages.get(scope.conversation);
  if (message) answer.previousMessageId = message.id;
  const outlook = t.outlooks.get(scope.conversation);
  if (outlook) answer.outlook = outlook.outlook;
  return calibration.calibration ? { ...answer, calibration: calibration.calibration } : answer;
}

/**
 * Takes in what the tracker said at `at` about `hashes` (a lookup's question, or a record's positions):
 * states newer than what is kept replace it, hashes it did not mention are forgotten (it knows none of them),
 * the family's rate and the model's calibration are kept, and the conversation counts as heard of at `at`.
 * An answer without a rate (a lookup without scope) leaves the conversation not heard of.
 */
export function learn(
  tenantId: string,
  scope: BeliefScope,
  hashes: readonly string[],
  answer: LookupAnswer,
  at: number,
): void {
  checkEpoch();
  const t = beliefsOf(tenantId, true);
  for (const h of hashes) {
    const prev = t.states.get(h);
    if (prev && prev.at > at) continue;
    const state = answer.states[h];
    if (prev) {
      t.states.delete(h);
      stateCount--;
    }
    if (state) {
      t.states.set(h, { state, at });
      stateCount++;
    }
  }
  if (answer.familyRatePerMin === undefined) {
    evict();
    return;
  }
  remember(t.rates, scope.family, { rate: answer.familyRatePerMin, at }, MAX_FAMILIES);
  remember(t.calibrations, scope.model, { calibration: answer.calibration, at }, MAX_MODELS);
  if (answer.previousMessageId !== undefined)
    remember(t.messages, scope.conversation, { id: answer.previousMessageId, at }, MAX_CONVERSATIONS);
  if (answer.outlook !== undefined)
    remember(t.outlooks, scope.conversation, { outlook: answer.outlook, at }, MAX_CONVERSATIONS);
  const heard = t.conversations.get(scope.conversation);
  if (heard === undefined || heard <= at) {
    t.conversations.delete(scope.conversation);
    t.conversations.set(scope.conversation, at);
    if (t.conversations.size > MAX_CONVERSATIONS) {
      const oldest = t.conversations.keys().next().value;
      if (oldest !== undefined) t.conversations.delete(oldest);
    }
  }
  evict();
}

/** Forgets what was heard about a tenant's conversations (a record failed: the tracker may differ now). */
export function forgetConversations(tenantId: string): void {
  const t = tenants.get(tenantId);
  t?.conversations.clear();
  t?.rates.clear();
  t?.calibrations.clear();
  t?.messages.clear();
  t?.outlooks.clear();
}

/** Forgets every tenant's states (records in flight stay tracked). After an admin change of tenants; tests. */
export function forgetAllBeliefs(): void {
  for (const [id, t] of tenants) {
    t.states.clear();
    t.conversations.clear();
    t.rates.clear();
    t.calibrations.clear();
    t.messages.clear();
    t.outlooks.clear();
    if (t.inflight.size === 0) tenants.delete(id);
  }
  stateCount = 0;
}

/**
 * Registers a record of `family` this isolate is about to send. Returns `settle`, to call (once; later calls
 * do nothing) when its answer is in or it failed. Until then `pending` includes it.
 */
export function recordStarted(tenantId: string, family: string): () => void {
  const t = beliefsOf(tenantId, true);
  let set = t.inflight.get(family);
  if (!set) {
    set = new Set();
    t.inflight.set(family, set);
  }
  let settle: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    settle = resolve;
  });
  set.add(done);
  let settled = false;
  return () => {
    if (settled) return;
    settled = true;
    settle();
    set.delete(done);
    if (set.size === 0 && t.inflight.get(family) === set) t.inflight.delete(family);
  };
}

/** This isolate's unanswered records of `family`, as one promise; undefined when there are none. */
export function pending(tenantId: string, family: string): Promise<unknown> | undefined {
  const set = tenants.get(tenantId)?.inflight.get(family);
  if (!set || set.size === 0) return undefined;
  return set.size === 1 ? set.values().next().value : Promise.all(set);
}

/** States held, over all tenants (tests). */
export function heldStates(): number {
  return stateCount;
}

/**
 * Keeps the isolate within MAX_STATES, least recently used tenant first. A tenant loses all of its states
 * and conversations at once: dropping only some would make a dropped position read as unknown to the tracker.
 */
function evict(): void {
  for (const [id, t] of tenants) {
    if (stateCount <= MAX_STATES) return;
    stateCount -= t.states.size;
    t.states.clear();
    t.conversations.clear();
    t.rates.clear();
    t.calibrations.clear();
    t.messages.clear();
    t.outlooks.clear();
    if (t.inflight.size === 0) tenants.delete(id);
  }
}

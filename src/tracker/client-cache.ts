import type { PlanLookup, PlanScope } from "../plan/context.ts";
import type { Outlook, PrefixState } from "../plan/types.ts";
import type { Calibration } from "../prefix/tokens.ts";
import { tenantEpoch } from "../tenants/epoch.ts";
import { type FamilyRate, notePlanInputs, type PlanInputStore, rateAt } from "./plan-inputs.ts";
import { type PrefixRow, prefixUpdate, toState } from "./prefix-update.ts";
import type { LookupAnswer, RecordRequest } from "./types.ts";

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
 * is then planned without it, the record's answer brings it in). This isolate's own outcomes are applied at
 * once (`learnOutcome`), so its next turn never waits for the record's answer.
 */
class TenantBeliefs {
  readonly states = new Map<string, Known>();
  /** Conversation -> when the tracker last answered about it. */
  readonly conversations = new Map<string, number>();
  /** Family -> its requests per minute, as the tracker last said. */
  readonly rates = new Map<string, { rate: number; at: number }>();
  /** Model -> the tenant's calibration for it (undefined: the tracker has none yet). */
  readonly calibrations = new Map<string, { calibration: Calibration | undefined; at: number }>();
  /** Conversation -> the last answer's message id the tracker named (cache diagnostics). */
  readonly messages = new Map<string, { id: string; at: number }>();
  /** Conversation -> when its tails and its family's heads come back, as the tracker last said. */
  readonly outlooks = new Map<string, { outlook: Outlook; at: number }>();
  /** Family -> the outlook of a conversation of it the tracker has not seen yet. */
  readonly familyOutlooks = new Map<string, { outlook: Outlook; at: number }>();
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
  maxAgeMs = FRESH_MS,
): PlanLookup | null {
  checkEpoch();
  const t = beliefsOf(tenantId, false);
  if (!t) return null;
  const heard = t.conversations.get(scope.conversation);
  if (heard === undefined || nowMs - heard > maxAgeMs) return null;
  const rate = t.rates.get(scope.family);
  const calibration = t.calibrations.get(scope.model);
  if (!rate || nowMs - rate.at > maxAgeMs || !calibration || nowMs - calibration.at > maxAgeMs) return null;
  const out = new Map<string, PrefixState>();
  for (const h of hashes) {
    const k = t.states.get(h);
    if (!k) continue;
    if (nowMs - k.at > maxAgeMs) return null;
    const s = k.state;
    const cached = s.cachedUntilMs !== null && s.cachedUntilMs > nowMs;
    out.set(h, cached ? s : { ...s, cachedUntilMs: null, ttl: null });
  }
  // The rate as the tracker would answer now: the remembered one decays from the time it was heard.
  const answer: PlanLookup = { known: out, familyRatePerMin: rateAt(rate, nowMs) };
  const message = t.messages.get(scope.conversation);
  if (message) answer.previousMessageId = message.id;
  const outlook = t.outlooks.get(scope.conversation) ?? t.familyOutlooks.get(scope.family);
  if (outlook) answer.outlook = outlook.outlook;
  return calibration.calibration ? { ...answer, calibration: calibration.calibration } : answer;
}

/** Whether the isolate heard the tracker about the conversation at all (its states may be old). */
export function heardOf(tenantId: string, conversation: string): boolean {
  checkEpoch();
  return tenants.get(tenantId)?.conversations.has(conversation) ?? false;
}

/**
 * What the isolate holds for `hashes` of a request it cannot answer fully from the cache (a conversation not
 * heard of lately): the states it holds of them (a family's shared head, heard with another conversation),
 * entries past their TTL at `nowMs` as lapsed, and the family's rate and the model's calibration as last heard.
 * Unknown hashes are absent, as in the stateless plan. Null when it holds nothing for the tenant.
 */
export function heldAnswer(
  tenantId: string,
  scope: BeliefScope,
  hashes: readonly string[],
  nowMs: number,
): PlanLookup | null {
  checkEpoch();
  const t = tenants.get(tenantId);
  if (!t) return null;
  const out = new Map<string, PrefixState>();
  for (const h of hashes) {
    const s = t.states.get(h)?.state;
    if (!s) continue;
    const cached = s.cachedUntilMs !== null && s.cachedUntilMs > nowMs;
    out.set(h, cached ? s : { ...s, cachedUntilMs: null, ttl: null });
  }
  const answer: PlanLookup = { known: out };
  const rate = t.rates.get(scope.family);
  if (rate) answer.familyRatePerMin = rateAt(rate, nowMs);
  const calibration = t.calibrations.get(scope.model)?.calibration;
  if (calibration) answer.calibration = calibration;
  const message = t.messages.get(scope.conversation) ?? t.messages.get(modelKey(scope.model));
  if (message) answer.previousMessageId = message.id;
  const outlook = t.outlooks.get(scope.conversation) ?? t.familyOutlooks.get(scope.family);
  if (outlook) answer.outlook = outlook.outlook;
  return answer;
}

/** Where a model's last answer id is kept among the conversations' (a chain hash has no colon). */
const modelKey = (model: string) => `model:${model}`;

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
  if (answer.familyOutlook !== undefined)
    remember(t.familyOutlooks, scope.family, { outlook: answer.familyOutlook, at }, MAX_FAMILIES);
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

/** A cached state as the tracker's row (what `prefixUpdate` reads); `writes` counts an entry it still holds. */
function rowOf(hash: string, s: PrefixState): PrefixRow {
  return {
    hash,
    tokens: s.tokens,
    last_seen: s.lastSeenMs,
    seen: s.seen,
    writes: s.cachedUntilMs !== null ? 1 : 0,
    cached_until: s.cachedUntilMs,
    ttl: s.ttl,
    gap_count: s.gaps?.count ?? 0,
    gap_5m: s.gaps?.within5m ?? 0,
    gap_1h: s.gaps?.within1h ?? 0,
  };
}

/**
 * Applies this isolate's own request to what it holds, as soon as the response is in, with the tracker's
 * own pure updates (the positions' beliefs, the family's rate, the model's calibration): the conversation's
 * next turn is planned from it without waiting for the record's answer, which replaces it when it comes
 * (it is heard later). Only for a conversation the tracker has answered about (else the next turn is planned
 * without state anyway, and a lookup in parallel asks).
 */
export function learnOutcome(tenantId: string, r: RecordRequest, shortTtlMs: number, at: number): void {
  checkEpoch();
  if (r.keepalive) return;
  if (r.messageId) {
    // As the tracker keeps them (provider-diagnostics.ts): the conversation's last answer, and the model's.
    const t = beliefsOf(tenantId, true);
    if (r.conversation !== null)
      remember(t.messages, r.conversation, { id: r.messageId, at }, MAX_CONVERSATIONS);
    remember(t.messages, modelKey(r.model), { id: r.messageId, at }, MAX_CONVERSATIONS);
  }
  if (r.family === null || r.conversation === null || r.positions.length === 0) return;
  const t = beliefsOf(tenantId, false);
  if (!t?.conversations.has(r.conversation)) return;
  const rows = new Map<string, PrefixRow>();
  for (const p of r.positions) {
    const k = t.states.get(p.hash);
    if (k) rows.set(p.hash, rowOf(p.hash, k.state));
  }
  const family = r.family;
  const inputs: PlanInputStore = {
    rate: (f) => t.rates.get(f),
    setRate: (f, rate: FamilyRate) => remember(t.rates, f, { rate: rate.rate, at }, MAX_FAMILIES),
    calibration: (m) => t.calibrations.get(m)?.calibration,
    setCalibration: (m, calibration) => remember(t.calibrations, m, { calibration, at }, MAX_MODELS),
  };
  // The cached rate was heard at its own time: decay it to the request's, as the tracker's row would be.
  const heardRate = t.rates.get(family);
  if (heardRate) t.rates.set(family, { rate: rateAt(heardRate, r.at), at: r.at });
  notePlanInputs(inputs, r);
  for (const c of prefixUpdate(r, rows, shortTtlMs).changes) {
    const prev = t.states.get(c.row.hash);
    if (prev && prev.at > at) continue;
    if (prev) {
      t.states.delete(c.row.hash);
      stateCount--;
    }
    t.states.set(c.row.hash, { state: toState(c.row, r.at), at });
    stateCount++;
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
  t?.familyOutlooks.clear();
}

/** Forgets every tenant's states. After an admin change of tenants; tests. */
export function forgetAllBeliefs(): void {
  for (const [id, t] of tenants) {
    t.states.clear();
    forgetConversations(id);
    tenants.delete(id);
  }
  stateCount = 0;
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
    forgetConversations(id);
    tenants.delete(id);
  }
}

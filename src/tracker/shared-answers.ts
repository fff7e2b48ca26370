import { isObj } from "../canonicalize/json.ts";
import type { LookupAnswer } from "./types.ts";

/**
 * The tracker's answers, shared by the isolates of one location through the Workers Cache API. A
 * conversation's turns land on whichever isolate the runtime picks; one that never heard of the conversation
 * reads what the tracker told the isolate that recorded its last turn, from the location's cache, instead of
 * asking the tracker (which lives in one place, maybe a continent away) or planning without state. Written
 * after each record's answer, off the request path; read by a request with a short deadline (client.ts).
 * An entry holds chain hashes, token counts, times, rates and a message id: no prompt text, no key.
 */

/** One record's answer, as the isolate that heard it learned it (client-cache.ts `learn`). */
export interface SharedAnswer {
  /** When the question was sent (the isolate's clock): an older answer never replaces a newer one. */
  at: number;
  hashes: string[];
  answer: LookupAnswer;
}

/** The Cache API cache the answers live in (tests read it). */
export const SHARED_ANSWERS_CACHE = "stoker-tracker-answers";
/** Never a real host: the key only names the entry. */
const ORIGIN = "https://tracker-answers.stoker.invalid";
/** An entry outlives any conversation gap it could still help plan: the longest cache TTL (1h). */
const MAX_AGE_S = 3600;
/** Entries larger than this are not shared (a request with thousands of positions). */
const MAX_BYTES = 256 * 1024;

let opened: Promise<Cache> | null = null;

function cache(): Promise<Cache> {
  opened ??= caches.open(SHARED_ANSWERS_CACHE).catch((err: unknown) => {
    opened = null;
    throw err;
  });
  return opened;
}

/** Where one tenant's conversation's answer is kept: the tenant is part of the key, so no tenant reads another's. */
export function sharedAnswerKey(tenantId: string, conversation: string): string {
  return `${ORIGIN}/${encodeURIComponent(tenantId)}/${encodeURIComponent(conversation)}`;
}

/** Shares one answer; false when it was not stored (too large, or the cache failed). Never rejects. */
export async function shareAnswer(
  tenantId: string,
  conversation: string,
  shared: SharedAnswer,
): Promise<boolean> {
  try {
    const body = JSON.stringify(shared);
    if (body.length > MAX_BYTES) return false;
    await (await cache()).put(
      sharedAnswerKey(tenantId, conversation),
      new Response(body, {
        headers: { "content-type": "application/json", "cache-control": `max-age=${MAX_AGE_S}` },
      }),
    );
    return true;
  } catch {
    return false;
  }
}

/** The answer another isolate shared for the conversation, or null (none, unreadable, or the cache failed). Never rejects. */
export async function sharedAnswer(tenantId: string, conversation: string): Promise<SharedAnswer | null> {
  try {
    const res = await (await cache()).match(sharedAnswerKey(tenantId, conversation));
    if (!res) return null;
    const text = await res.text();
    if (text.length > MAX_BYTES) return null;
    return asSharedAnswer(JSON.parse(text));
  } catch {
    return null;
  }
}

/** The entry when it has the shape this module writes (what planning reads is checked field by field), else null. */
function asSharedAnswer(v: unknown): SharedAnswer | null {
  if (!isObj(v) || !Number.isFinite(v.at) || !Array.isArray(v.hashes) || !isObj(v.answer)) return null;
  if (!v.hashes.every((h) => typeof h === "string")) return null;
  const a = v.answer;
  if (!isObj(a.states) || !Object.values(a.states).every(isState)) return null;
  if (a.familyRatePerMin !== undefined && !Number.isFinite(a.familyRatePerMin)) return null;
  if (a.previousMessageId !== undefined && typeof a.previousMessageId !== "string") return null;
  if (a.calibration !== undefined && !(isObj(a.calibration) && finite(a.calibration, "ratio", "weight")))
    return null;
  if (a.outlook !== undefined && !isOutlook(a.outlook)) return null;
  if (a.familyOutlook !== undefined && !isOutlook(a.familyOutlook)) return null;
  return v as unknown as SharedAnswer;
}

const finite = (o: Record<string, unknown>, ...keys: string[]): boolean =>
  keys.every((k) => Number.isFinite(o[k]));

const numbers = (v: unknown): boolean => Array.isArray(v) && v.every((x) => Number.isFinite(x));

function isOutlook(o: unknown): boolean {
  return (
    isObj(o) &&
    finite(o, "headsRecur", "headGaps", "windowMs") &&
    (o.headLapse === undefined || Number.isFinite(o.headLapse)) &&
    numbers(o.head) &&
    numbers(o.tail) &&
    numbers(o.reach)
  );
}

function isState(s: unknown): boolean {
  return (
    isObj(s) &&
    finite(s, "tokens", "seen", "lastSeenMs") &&
    (s.cachedUntilMs === null || Number.isFinite(s.cachedUntilMs)) &&
    (s.ttl === null || typeof s.ttl === "string") &&
    (s.gaps === undefined || (isObj(s.gaps) && finite(s.gaps, "count", "within5m", "within1h")))
  );
}

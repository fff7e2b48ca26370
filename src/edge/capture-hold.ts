import { LastSeen } from "../core/lru.ts";
import type { WholeCapture } from "../tracker/types.ts";

/**
 * Keepalive captures held back in the isolate. A capture is the whole request (400 KB at 100K tokens) that a
 * ping would replay minutes later, and a conversation's next turn replaces it. The record goes to the
 * tracker at once without the body, and the body follows only if no later turn of the conversation came
 * through this isolate within the hold: an agent loop's captures mostly never travel, nor get sealed and
 * stored.
 *
 * Only a conversation in a fast loop is held: one whose previous capture in this isolate came within the
 * hold (an agent calling tools). Any other capture (a conversation's first request, a person's next message)
 * is rarely replaced within seconds, and holding it would only keep its body alive longer.
 *
 * Bounded by design: at most MAX_HELD_CHARS characters of bodies held (beyond, a capture goes with its
 * record), a superseded capture let go at once, and the last capture's time kept for at most MAX_RECENT
 * conversations. Keys are tenant and conversation: a turn only ever supersedes its own conversation's
 * capture. Each hold ends on its own request's timer (a request's `waitUntil` must not wait on another
 * request's work).
 */
export interface Hold {
  readonly key: string;
  /** Null once a later turn superseded it. */
  capture: WholeCapture | null;
}

export const MAX_HELD_CHARS = 16 * 1024 * 1024;
export const MAX_RECENT = 10_000;

const holds = new Map<string, Hold>();
let heldChars = 0;
/** When each conversation's last capture came here, for at most MAX_RECENT conversations. */
const recent = new LastSeen(MAX_RECENT);

/**
 * Supersedes the conversation's capture held before this one, and holds this one when the conversation's
 * previous capture came within `holdMs` of `nowMs`; null: send it with the record (not in a fast loop, or
 * the isolate holds too much already).
 */
export function holdCapture(
  tenantId: string,
  capture: WholeCapture,
  nowMs: number,
  holdMs: number,
): Hold | null {
  const key = `${tenantId}\n${capture.conversation}`;
  const earlier = holds.get(key);
  if (earlier) letGo(earlier);
  if (!recent.cameBackWithin(key, nowMs, holdMs)) return null;
  if (heldChars + capture.body.length > MAX_HELD_CHARS) return null;
  const hold: Hold = { key, capture };
  holds.set(key, hold);
  heldChars += capture.body.length;
  return hold;
}

/** Waits `ms`, then lets the hold go: the capture to send, or null when a later turn superseded it. */
export async function releaseHold(hold: Hold, ms: number): Promise<WholeCapture | null> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  const capture = hold.capture;
  letGo(hold);
  return capture;
}

function letGo(hold: Hold): void {
  if (holds.get(hold.key) === hold) holds.delete(hold.key);
  if (hold.capture) heldChars -= hold.capture.body.length;
  hold.capture = null;
}

/** Characters of bodies held in this isolate, holds, and conversations whose last capture is remembered (tests). */
export function heldCaptures(): { chars: number; holds: number; recent: number } {
  return { chars: heldChars, holds: holds.size, recent: recent.size };
}

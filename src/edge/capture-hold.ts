import type { WholeCapture } from "../tracker/types.ts";

/**
 * Keepalive captures held back in the isolate. A capture is the whole request (400 KB at 100K tokens) that a
 * ping would replay minutes later, and a conversation's next turn replaces it. The record goes to the
 * tracker at once without the body, and the body follows only if no later turn of the conversation came
 * through this isolate within the hold: an agent loop's captures mostly never travel, nor get sealed and
 * stored.
 *
 * Bounded by design: at most MAX_HELD_CHARS characters of bodies held (beyond, a capture goes with its
 * record), and a superseded capture is let go at once. Keys are tenant and conversation: a turn only ever
 * supersedes its own conversation's capture. Each hold ends on its own request's timer (a request's
 * `waitUntil` must not wait on another request's work).
 */
export interface Hold {
  readonly key: string;
  /** Null once a later turn superseded it. */
  capture: WholeCapture | null;
}

export const MAX_HELD_CHARS = 16 * 1024 * 1024;

const holds = new Map<string, Hold>();
let heldChars = 0;

/**
 * Holds `capture`, superseding the conversation's capture held before it; null when the isolate holds too
 * much already (send it with the record).
 */
export function holdCapture(tenantId: string, capture: WholeCapture): Hold | null {
  const key = `${tenantId}\n${capture.conversation}`;
  const earlier = holds.get(key);
  if (earlier) letGo(earlier);
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

/** Characters of bodies held in this isolate, and holds (tests). */
export function heldCaptures(): { chars: number; holds: number } {
  return { chars: heldChars, holds: holds.size };
}

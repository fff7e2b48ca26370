import { LastSeen } from "../core/lru.ts";
import type { SharedAnswer } from "./shared-answers.ts";

/**
 * Answers to share (shared-answers.ts) held back in the isolate. The tracker's answer to a conversation's
 * next record covers every position of the turn before and more, so sharing the earlier one is wasted when
 * the next turn comes through this isolate anyway: in a fast loop (an agent calling tools) it mostly does,
 * within seconds. There an answer is written to the location's cache only once no later turn of the
 * conversation came through this isolate within the hold (SHARED_ANSWERS_HOLD_MS): one cache write when the
 * loop pauses instead of one per turn (each write is a JSON body, a `Response` and a subrequest, off the
 * request path but on the isolate's thread). The price: a turn that lands on another isolate within the hold
 * plans from the answer shared at the loop's last pause (or without one), as it would from a stale entry.
 *
 * Only a conversation in a fast loop is held: one whose previous record in this isolate came within the
 * hold. Any other answer (a conversation's first turn, a person's next message) is shared as it is heard.
 *
 * Bounded by design: at most MAX_HELD holds and MAX_HELD_POSITIONS positions in the answers held (beyond, an
 * answer is shared as it is heard), a superseded one let go at once, and the last record's time kept for at
 * most MAX_RECENT conversations. Keys are tenant and conversation: a turn only ever supersedes its own
 * conversation's answer. Each hold ends on its own request's timer (a request's `waitUntil` must not wait on
 * another request's work).
 */
export interface ShareHold {
  readonly key: string;
  /** The conversation whose answer it holds (its key is tenant and conversation). */
  readonly conversation: string;
  /** waiting: the hold runs; superseded: a later turn came; released: the hold ended. */
  state: "waiting" | "superseded" | "released";
  /** The record's answer, once heard while the hold runs. */
  shared: SharedAnswer | null;
}

export const MAX_HELD = 1_000;
export const MAX_HELD_POSITIONS = 100_000;
export const MAX_RECENT = 10_000;

const holds = new Map<string, ShareHold>();
let heldPositions = 0;
/** When each conversation's last record came here, for at most MAX_RECENT conversations. */
const recent = new LastSeen(MAX_RECENT);

/**
 * Supersedes the conversation's answer held before this turn's, and holds this turn's when its previous
 * record here came within `holdMs` of `nowMs`; null: share the answer as it is heard.
 */
export function holdShare(
  tenantId: string,
  conversation: string,
  nowMs: number,
  holdMs: number,
): ShareHold | null {
  const key = `${tenantId}\n${conversation}`;
  const earlier = holds.get(key);
  if (earlier) letGo(earlier, "superseded");
  if (!recent.cameBackWithin(key, nowMs, holdMs) || holds.size >= MAX_HELD) return null;
  const hold: ShareHold = { key, conversation, state: "waiting", shared: null };
  holds.set(key, hold);
  return hold;
}

/**
 * The record's answer heard: true when the hold takes care of it (keeps it to share, or drops it as
 * superseded), false when the hold has ended already and the caller shares it now.
 */
export function keepHeld(hold: ShareHold, shared: SharedAnswer): boolean {
  if (hold.state === "superseded") return true;
  if (hold.state === "released" || heldPositions + shared.hashes.length > MAX_HELD_POSITIONS) return false;
  if (hold.shared) heldPositions -= hold.shared.hashes.length;
  hold.shared = shared;
  heldPositions += shared.hashes.length;
  return true;
}

/** Waits `ms`, then ends the hold: the answer to share, or null (superseded, or not heard yet). */
export async function releaseShare(hold: ShareHold, ms: number): Promise<SharedAnswer | null> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  const shared = hold.state === "waiting" ? hold.shared : null;
  if (hold.state === "waiting") letGo(hold, "released");
  return shared;
}

function letGo(hold: ShareHold, state: "superseded" | "released"): void {
  if (holds.get(hold.key) === hold) holds.delete(hold.key);
  if (hold.shared) heldPositions -= hold.shared.hashes.length;
  hold.shared = null;
  hold.state = state;
}

/** Holds, positions in the answers held, and conversations whose last record is remembered here (tests). */
export function heldShares(): { holds: number; positions: number; recent: number } {
  return { holds: holds.size, positions: heldPositions, recent: recent.size };
}

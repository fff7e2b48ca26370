import { TTL_MS } from "../economics/breakEven.ts";

/**
 * What the keepalive policy learns from, in a form a SQLite row holds.
 *
 * Time since a prefix's last use is cut into idle windows of one 5-minute TTL: window 0 is
 * (0, 5 min], window j is (j·5, (j+1)·5] min, up to a one-hour horizon. A ping decision is always "will the
 * next request land in the window this ping covers, given none came so far", so counting per window is the
 * resolution the decision needs but for one thing: a ping goes out near the end of the first window, and
 * whether a return is still likely before the entry lapses depends on where in that window returns come (an
 * agent's tool results seconds after the answer, a person's reply minutes after). So each table also counts
 * its first-window returns per fifth of the window (`firstWindow`).
 *
 * The unit is a prefix (a chain position), as the tracker keeps it: "comes back" means a later request
 * contains it again. Two histories, because they answer different questions:
 * - the family's (tenant + model + head) survival table: per class and window, how many prefixes were still
 *   idle when the window opened (`atRisk`) and how many came back in it (`returns`). Its discrete-time hazard
 *   returns/atRisk is the chance a prefix is used again at all, and when. The class is where the prefix
 *   stands: how many requests have contained it (`uses`) and how many requests its conversation has had
 *   (`turns`). Uses are the strongest signal on the Mooncake trace (a block seen once is reused within 5
 *   minutes 19 % of the time, one seen twice 31 %, five times 63 %, whatever the turn); turns matter where
 *   conversations are linear chats, whose last prompt is seen once but reused whenever the chat goes on.
 *   16 classes × 12 windows × 2 counters = 384 integers, 4 reach counts and 5 first-window parts: 1,572
 *   bytes as a u32 blob.
 * - the prefix's own gaps between its uses, counted per window (13 counters, the last for gaps beyond the
 *   horizon): its rhythm, e.g. a user who always comes back after ~7 minutes. A prefix's own history holds
 *   only returns (it cannot have seen its own "never"), so it shapes *when*, not *whether*.
 */

/**
 * Width of an idle window: the 5-minute TTL. A deploy that shortens the TTL (ANTHROPIC_CACHE_TTL_SECONDS)
 * passes its TTL as `windowMs` wherever windows are counted or read, so the windows follow it.
 */
export const WINDOW_MS = TTL_MS["5m"];
/** Windows the histories count, i.e. the learning horizon (one hour). */
export const WINDOWS = 12;
/** Lower bounds of the use classes: 1, 2, 3-5, 6+ requests have contained the prefix. */
export const USE_CLASSES: readonly number[] = [1, 2, 3, 6];
/** Lower bounds of the turn classes: 1, 2, 3-5, 6+ requests in the prefix's conversation. */
export const TURN_CLASSES: readonly number[] = [1, 2, 3, 6];
/** Classes of the family table. */
export const CLASSES = USE_CLASSES.length * TURN_CLASSES.length;
/**
 * Counts are halved once a class's first window has seen this many prefixes, so the table keeps adapting and
 * fits u32. A window's at-risk count and its returns are counted together (when it closes or the prefix comes
 * back in it), so halving weighs neither side double.
 */
const FAMILY_CAP = 1 << 20;
/** Own gap counters are halved beyond this, so they fit a byte each. */
const OWN_CAP = 255;

/** A family's survival table (flattened class-major: index = class · WINDOWS + window, see `classOf`). */
export interface FamilyGaps {
  atRisk: number[];
  returns: number[];
  /**
   * Of the conversations that came back within the horizon, how many sent again each of the previous
   * request's last positions: whether a return reads an entry written at the end, or a little before it.
   */
  reach: Reach;
  /**
   * Returns that came within the first window, per fifth of it (`FIRST_WINDOW_BINS`): where in that window
   * they come. Counted as they come, over all classes: a shape given a return, not a chance of one.
   */
  firstWindow: number[];
}

/**
 * Parts the first window's returns are counted in (one minute each for the 5-minute TTL). It sets the stored
 * blob's length, which `decodeFamily` checks: another value would read every stored table as empty.
 */
export const FIRST_WINDOW_BINS = 5;

/** Positions from the end whose reach is counted: the last, the one before, and the one before that. */
export const REACH_DEPTH = 3;

export interface Reach {
  returns: number;
  /** Index k: returns that sent again the position k places before the previous request's last. */
  sent: number[];
}

/**
 * Where a prefix stands, which picks its row of the family table. Give both where known; either one alone
 * stands for both (a caller that tracks only whole conversations and passes `turns` learns and looks up a
 * table of conversations by turn count, which is consistent as long as it always does so).
 */
export interface Standing {
  /** Requests that have contained the prefix, the current one included (the tracker's `seen`). */
  uses?: number;
  /** Requests of the prefix's conversation so far, the current one included. */
  turns?: number;
}

/** One prefix's history: where it stands, its own gaps between uses, and its family's table. */
export interface GapHistory extends Standing {
  /** Requests of the prefix's conversation so far, the current one included (`uses` defaults to it). */
  turns: number;
  /** Own gaps per window; index WINDOWS counts gaps beyond the horizon. Length WINDOWS + 1. */
  own: ArrayLike<number>;
  /** The family's table, or null for a family with no history yet (the priors stand in). */
  family: FamilyGaps | null;
  /** The tenant's table (all its families pooled), which a family with little data borrows from. */
  tenant?: FamilyGaps | null;
  /**
   * The family's table of conversations whose latest answer ended as this one's did (a tool call, a reply),
   * where known: it borrows from the family's table, which pools both.
   */
  answer?: FamilyGaps | null;
  /**
   * Whether a conversation of the family has come back, its return counted or still waiting for its window to
   * close (default: what `family` has counted).
   */
  familyBack?: boolean;
}

/** An empty family table. */
export function emptyFamily(): FamilyGaps {
  return {
    atRisk: new Array(CLASSES * WINDOWS).fill(0),
    returns: new Array(CLASSES * WINDOWS).fill(0),
    reach: { returns: 0, sent: new Array(REACH_DEPTH).fill(0) },
    firstWindow: new Array(FIRST_WINDOW_BINS).fill(0),
  };
}

/** An empty own-gap histogram. */
export function emptyOwn(): number[] {
  return new Array(WINDOWS + 1).fill(0);
}

/** The family-table class of a prefix. */
export function classOf(s: Standing): number {
  const uses = s.uses ?? s.turns ?? 1;
  return bucket(USE_CLASSES, uses) * TURN_CLASSES.length + bucket(TURN_CLASSES, s.turns ?? uses);
}

/** The class of a conversation known only by its turns (see `Standing`). */
export function turnClass(turns: number): number {
  return classOf({ turns });
}

/** A bare number is a conversation's turns (see `Standing`). */
function standingOf(s: Standing | number): Standing {
  return typeof s === "number" ? { turns: s } : s;
}

function bucket(bounds: readonly number[], n: number): number {
  let c = 0;
  for (let i = 1; i < bounds.length; i++) if (n >= (bounds[i] as number)) c = i;
  return c;
}

/** The idle window an idle time falls in ((0, 5 min] is 0); WINDOWS or more is beyond the horizon. */
export function windowOf(idleMs: number, windowMs: number = WINDOW_MS): number {
  return idleMs <= windowMs ? 0 : Math.ceil(idleMs / windowMs) - 1;
}

/**
 * `count` prefixes standing at `s` went through idle window `window` without coming back: the window closed
 * on them. Counting a window when it closes, not when it opens, is what keeps the hazards honest while
 * returns are still outstanding: a prefix still waiting in a window is neither a return nor a miss yet
 * (right-censored), so a new family learns from its first closed windows instead of from an at-risk count
 * whose returns have not had time to come. The Tracker's sweep finds them with one grouped COUNT over
 * `last_seen` per window: those whose last use lies in (previousSweep - (j+1)·window, now - (j+1)·window].
 */
export function noteSurvived(family: FamilyGaps, s: Standing | number, window: number, count = 1): void {
  if (window < 0 || window >= WINDOWS || count <= 0) return;
  const i = classOf(standingOf(s)) * WINDOWS + window;
  family.atRisk[i] = (family.atRisk[i] ?? 0) + count;
  const base = classOf(standingOf(s)) * WINDOWS;
  if ((family.atRisk[base] ?? 0) > FAMILY_CAP) halveClass(family, base);
}

/**
 * Records that a prefix standing at `s` (as it stood before this use) was used again `gapMs` after its last
 * use: at risk in the window it came back in, and a return there. The windows before it are counted when they
 * closed (`noteSurvived`).
 */
export function noteReturn(
  family: FamilyGaps,
  s: Standing | number,
  gapMs: number,
  windowMs: number = WINDOW_MS,
): void {
  // Beyond the horizon: every window closed on it, the prefix starts afresh.
  noteReturnIn(family, s, windowOf(gapMs, windowMs));
}

/** `count` prefixes standing at `s` came back in idle window `window`: at risk there, and returns. */
export function noteReturnIn(family: FamilyGaps, s: Standing | number, window: number, count = 1): void {
  if (window < 0 || window >= WINDOWS || count <= 0) return;
  const base = classOf(standingOf(s)) * WINDOWS;
  family.atRisk[base + window] = (family.atRisk[base + window] ?? 0) + count;
  family.returns[base + window] = (family.returns[base + window] ?? 0) + count;
  if ((family.atRisk[base] ?? 0) > FAMILY_CAP) halveClass(family, base);
}

/** A return `gapMs` after the last use: counted in its part of the first window when it falls there. */
export function noteFirstWindow(family: FamilyGaps, gapMs: number, windowMs: number = WINDOW_MS): void {
  if (!(gapMs >= 0) || gapMs > windowMs) return;
  const bins = family.firstWindow;
  const k = Math.min(Math.floor((gapMs / windowMs) * FIRST_WINDOW_BINS), FIRST_WINDOW_BINS - 1);
  bins[k] = (bins[k] ?? 0) + 1;
  if ((bins[k] ?? 0) > FAMILY_CAP)
    for (let i = 0; i < bins.length; i++) bins[i] = Math.floor((bins[i] ?? 0) / 2);
}

/** Adds one of the prefix's own gaps to its histogram (returns a new array). */
export function noteOwnGap(own: ArrayLike<number>, gapMs: number, windowMs: number = WINDOW_MS): number[] {
  const next = own.length === WINDOWS + 1 ? Array.from(own) : emptyOwn();
  const j = Math.min(windowOf(gapMs, windowMs), WINDOWS);
  next[j] = (next[j] ?? 0) + 1;
  if ((next[j] ?? 0) > OWN_CAP)
    for (let i = 0; i < next.length; i++) next[i] = Math.floor((next[i] ?? 0) / 2);
  return next;
}

function halveClass(family: FamilyGaps, base: number): void {
  for (let j = 0; j < WINDOWS; j++) {
    family.atRisk[base + j] = Math.floor((family.atRisk[base + j] ?? 0) / 2);
    family.returns[base + j] = Math.floor((family.returns[base + j] ?? 0) / 2);
  }
}

/** Reach counts are halved beyond this, so the ratio follows what a family does lately. */
const REACH_CAP = 1 << 12;

/** A conversation came back within the horizon: which of the previous request's last positions it sent. */
export function noteReach(family: FamilyGaps, sent: readonly boolean[]): void {
  const r = family.reach;
  r.returns++;
  for (let k = 0; k < REACH_DEPTH; k++) if (sent[k]) r.sent[k] = (r.sent[k] ?? 0) + 1;
  if (r.returns > REACH_CAP) {
    r.returns = Math.floor(r.returns / 2);
    r.sent = r.sent.map((x) => Math.floor(x / 2));
  }
}

/** Bytes of a family blob before the first window's parts were counted (still read: their parts are empty). */
const FAMILY_BYTES_V1 = 8 * CLASSES * WINDOWS + 4 + 4 * REACH_DEPTH;
const FAMILY_BYTES = FAMILY_BYTES_V1 + 4 * FIRST_WINDOW_BINS;

/**
 * The family table as a u32 blob (1,572 bytes: the survival counts, the reach counts, then the first window's
 * parts) for SQLite.
 */
export function encodeFamily(family: FamilyGaps): Uint8Array {
  const n = CLASSES * WINDOWS;
  const out = new Uint8Array(FAMILY_BYTES);
  const view = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    view.setUint32(4 * i, Math.min(family.atRisk[i] ?? 0, 0xffffffff), true);
    view.setUint32(4 * (n + i), Math.min(family.returns[i] ?? 0, 0xffffffff), true);
  }
  view.setUint32(8 * n, family.reach.returns, true);
  for (let k = 0; k < REACH_DEPTH; k++) view.setUint32(8 * n + 4 + 4 * k, family.reach.sent[k] ?? 0, true);
  for (let k = 0; k < FIRST_WINDOW_BINS; k++)
    view.setUint32(FAMILY_BYTES_V1 + 4 * k, Math.min(family.firstWindow[k] ?? 0, 0xffffffff), true);
  return out;
}

/** Reads a blob written by `encodeFamily`; anything else yields an empty table. */
export function decodeFamily(blob: Uint8Array | ArrayBuffer | null | undefined): FamilyGaps {
  const n = CLASSES * WINDOWS;
  const family = emptyFamily();
  if (!blob) return family;
  const bytes = blob instanceof Uint8Array ? blob : new Uint8Array(blob);
  if (bytes.byteLength !== FAMILY_BYTES && bytes.byteLength !== FAMILY_BYTES_V1) return family;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) {
    family.atRisk[i] = view.getUint32(4 * i, true);
    family.returns[i] = view.getUint32(4 * (n + i), true);
  }
  family.reach = {
    returns: view.getUint32(8 * n, true),
    sent: Array.from({ length: REACH_DEPTH }, (_, k) => view.getUint32(8 * n + 4 + 4 * k, true)),
  };
  if (bytes.byteLength === FAMILY_BYTES)
    family.firstWindow = Array.from({ length: FIRST_WINDOW_BINS }, (_, k) =>
      view.getUint32(FAMILY_BYTES_V1 + 4 * k, true),
    );
  return family;
}

/** The own histogram as 13 bytes. */
export function encodeOwn(own: ArrayLike<number>): Uint8Array {
  return Uint8Array.from({ length: WINDOWS + 1 }, (_, i) => Math.min(own[i] ?? 0, OWN_CAP));
}

/** Reads bytes written by `encodeOwn`; anything else yields an empty histogram. */
export function decodeOwn(blob: Uint8Array | ArrayBuffer | null | undefined): number[] {
  if (!blob) return emptyOwn();
  const bytes = blob instanceof Uint8Array ? blob : new Uint8Array(blob);
  return bytes.byteLength === WINDOWS + 1 ? Array.from(bytes) : emptyOwn();
}

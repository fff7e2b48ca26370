import {
  emptyOwn,
  type FamilyGaps,
  type GapHistory,
  noteFirstWindow,
  noteOwnGap,
  noteReach,
  noteReturnIn,
  noteSurvived,
  REACH_DEPTH,
  WINDOW_MS,
  WINDOWS,
  windowOf,
} from "../decide/gaps.ts";
import { headDistribution, headsRecur, returnDistribution } from "../decide/hazard.ts";
import { headsExposure, newHeadLapse } from "../decide/head-rate.ts";
import type { Outlook } from "../decide/types.ts";
import type { AnswerEnd } from "../upstream/answer.ts";

/** The last chain positions of a conversation's latest request, the last first: where a write at its end sits. */
export type Ends = readonly string[];

/** One conversation as stored: its family, turns so far, last request, own gap histogram, ends and answer. */
export interface ConversationEntry {
  family: string;
  turns: number;
  lastAt: number;
  own: number[];
  ends: Ends;
  /** How its latest request's answer ended, where the answer said. */
  answer: AnswerEnd | null;
}

/** Where conversations and family survival tables live: SQLite in the Tracker, memory in the replay. */
export interface ConversationStore {
  get(conversation: string): ConversationEntry | undefined;
  insert(conversation: string, family: string, at: number, ends: Ends, answer: AnswerEnd | null): void;
  /** One more turn at `at`, with the conversation's new own histogram, ends and answer. */
  update(conversation: string, at: number, own: number[], ends: Ends, answer: AnswerEnd | null): void;
  family(family: string): FamilyGaps;
  /** Stores each table (by family) as of `at`. */
  saveFamilies(tables: ReadonlyMap<string, FamilyGaps>, at: number): void;
  /** Conversations whose last request lies in (fromMs, toMs], counted per family, turns and answer. */
  idle(fromMs: number, toMs: number): IdleCount[];
  sweptAt(): number | null;
  setSweptAt(nowMs: number): void;
  /** Returns to count in their tables once `due` has passed (see `Conversations.noteRequest`). */
  deferReturns(returns: readonly PendingReturn[]): void;
  /** Takes the returns due by `toMs`, counted per table, turns and window. */
  takeDueReturns(toMs: number): DueReturns[];
  /** Whether a return to `table` waits to be counted. */
  hasPendingReturn(table: string): boolean;
  /**
   * Conversations of `family` whose last request lies in (fromMs, toMs], per turns and by whether it lies
   * after `splitMs`, with their sum of last_at.
   */
  open(family: string, fromMs: number, splitMs: number, toMs: number): OpenCount[];
}

/** Conversations of one family and turn count in a span of last uses: how many, and their last uses summed. */
export interface OpenCount {
  turns: number;
  /** Their last use lies after the split (`open`'s `splitMs`). */
  late: boolean;
  n: number;
  sumLastAt: number;
}

/** A conversation's return, counted when its window closes on the conversations that did not come back. */
export interface PendingReturn {
  table: string;
  /** The conversation's turns before the return (its class). */
  turns: number;
  window: number;
  due: number;
}

/** Returns of one table, turn count and window that fell due. */
export interface DueReturns {
  table: string;
  turns: number;
  window: number;
  n: number;
}

/** Idle conversations of one family, turn count and answer. */
export interface IdleCount {
  family: string;
  turns: number;
  answer: AnswerEnd | null;
  n: number;
}

/**
 * A family's table of conversations whose latest answer ended as `answer`: what keepalive reads once the
 * answer is known (an agent whose answer called a tool comes back when the tool has run; a person who got a
 * reply may not). Learned alongside the family's table, which pools both (and which the planner reads: at
 * plan time the answer is still to come).
 */
export function answerTable(family: string, answer: AnswerEnd): string {
  return `${family}~${answer}`;
}

/** The tenant-wide table: every family's conversations pooled (the level between a family and the prior). */
export const TENANT_TABLE = "~tenant";
/** The table of heads: each family counted as one "conversation" whose turns are its requests. */
export const HEADS_TABLE = "~heads";
const headKey = (family: string): string => `~head:${family}`;
const NO_ENDS: Ends = [];

/**
 * What one request teaches about one "conversation" (a conversation, or a family's head): the tables it
 * counts in, its ends and what it sent (for the reach), its answer, and when its return is counted.
 * `returnsWhenClosed`: a conversation's return is counted when its window closes, as the conversations that
 * did not come back in it are (by the sweep); counted at once, a window still open holds returns and none of
 * its misses, and a new tenant's first minutes read as if every conversation came back (Mooncake training
 * half: first turns predicted at 0.95 that came back 0.23 of the time). A head's return is counted at once:
 * the bias that leaves favours heads that have come back, and deferring it too cost RAG 0.1 and 0.5/min
 * 9-10 % on their training seeds with no gain elsewhere.
 */
interface Note {
  tables: readonly string[];
  ends: Ends;
  sent: ReadonlySet<string> | null;
  answer: AnswerEnd | null;
  returnsWhenClosed: boolean;
}

/**
 * Conversations' rhythms and families' survival tables: what the keepalive policy and the planner learn from.
 * The rules live here once; the store is the Tracker's SQLite or the replay's memory. Three tables learn at
 * once: the family's, the tenant's (all families pooled: what a new family starts from), and the heads' (how
 * often a family's head is sent again: what a new head's write is judged by).
 */
export class Conversations {
  readonly store: ConversationStore;
  /** Width of the gap windows: the deploy's 5m TTL (shorter where ANTHROPIC_CACHE_TTL_SECONDS says so). */
  readonly #windowMs: number;

  constructor(store: ConversationStore, windowMs: number = WINDOW_MS) {
    this.store = store;
    this.#windowMs = windowMs;
  }

  /**
   * Accounts a request of `conversation` at `at`: for a conversation seen before, the windows its gap went
   * through that no sweep has closed yet, then a return in the window it came back in (counted when that
   * window closes, see `#note`); the same for its family's head (counted at once).
   */
  noteRequest(
    conversation: string,
    family: string,
    at: number,
    positions: readonly string[] = [],
    answer: AnswerEnd | null = null,
  ): void {
    // The tables both notes change are stored together, in one write.
    const changed = new Map<string, FamilyGaps>();
    this.#note(conversation, family, at, changed, {
      tables: [family, TENANT_TABLE],
      ends: positions.slice(-REACH_DEPTH).reverse(),
      sent: new Set(positions),
      answer,
      returnsWhenClosed: true,
    });
    this.#note(headKey(family), HEADS_TABLE, at, changed, {
      tables: [HEADS_TABLE],
      ends: NO_ENDS,
      sent: null,
      answer: null,
      returnsWhenClosed: false,
    });
    this.#store(changed, at);
  }

  #store(changed: Map<string, FamilyGaps>, at: number): void {
    if (changed.size === 0) return;
    this.store.saveFamilies(changed, at);
    changed.clear();
  }

  #note(
    conversation: string,
    family: string,
    at: number,
    changed: Map<string, FamilyGaps>,
    note: Note,
  ): void {
    const row = this.store.get(conversation);
    if (!row) {
      this.store.insert(conversation, family, at, note.ends, note.answer);
      return;
    }
    // The gap that ends now followed the previous answer: that answer's table learns it too.
    const names = row.answer ? [...note.tables, answerTable(row.family, row.answer)] : note.tables;
    const gap = Math.max(0, at - row.lastAt);
    const swept = this.store.sweptAt() ?? Number.NEGATIVE_INFINITY;
    const returnWindow = windowOf(gap, this.#windowMs);
    const sent = note.sent;
    // Stored together, in one write: nothing reads them before this request is noted.
    const deferred: PendingReturn[] = [];
    for (const name of names) {
      // A table changed and not yet stored is stored before it is read again (never, while names differ).
      if (changed.has(name)) this.#store(changed, at);
      const table = this.store.family(name);
      // Windows that closed after the last sweep: the sweep will not see them (the last use moves now).
      for (let j = 0; j < Math.min(returnWindow, WINDOWS); j++)
        if (row.lastAt + (j + 1) * this.#windowMs > swept) noteSurvived(table, row.turns, j);
      noteFirstWindow(table, gap, this.#windowMs);
      if (!note.returnsWhenClosed) noteReturnIn(table, row.turns, returnWindow);
      else if (returnWindow < WINDOWS)
        deferred.push({
          table: name,
          turns: row.turns,
          window: returnWindow,
          due: row.lastAt + (returnWindow + 1) * this.#windowMs,
        });
      if (sent && returnWindow < WINDOWS && row.ends.length > 0)
        noteReach(
          table,
          row.ends.map((h) => sent.has(h)),
        );
      changed.set(name, table);
    }
    if (deferred.length > 0) this.store.deferReturns(deferred);
    this.store.update(conversation, at, noteOwnGap(row.own, gap, this.#windowMs), note.ends, note.answer);
  }

  /**
   * Counts, once, every idle window that closed since the last sweep: for window j, the conversations whose
   * last request lies in (previous sweep - (j+1)·window, now - (j+1)·window]. Conversations that never come
   * back are counted this way too; counting only on return would make returns look likelier than they are.
   */
  sweep(nowMs: number): void {
    const swept = this.store.sweptAt();
    const since = swept ?? nowMs;
    // A sweep more often than a tenth of a window adds nothing.
    if (swept !== null && nowMs - since < this.#windowMs / 10) return;
    const tables = new Map<string, FamilyGaps>();
    const table = (name: string): FamilyGaps => {
      let t = tables.get(name);
      if (!t) {
        t = this.store.family(name);
        tables.set(name, t);
      }
      return t;
    };
    for (let j = 0; j < WINDOWS; j++) {
      const offset = (j + 1) * this.#windowMs;
      for (const r of this.store.idle(since - offset, nowMs - offset)) {
        noteSurvived(table(r.family), r.turns, j, r.n);
        if (r.family !== HEADS_TABLE) noteSurvived(table(TENANT_TABLE), r.turns, j, r.n);
        if (r.answer) noteSurvived(table(answerTable(r.family, r.answer)), r.turns, j, r.n);
      }
    }
    for (const r of this.store.takeDueReturns(nowMs)) noteReturnIn(table(r.table), r.turns, r.window, r.n);
    this.store.saveFamilies(tables, nowMs);
    this.store.setSweptAt(nowMs);
  }

  /**
   * The heads `table` as of `nowMs`, with each head still inside its first window counted at risk there for the
   * share of the window it has been open, and each whose first window closed after the last sweep as a miss
   * there. A head's return is counted at once, its miss only when the window closes: without this a new
   * tenant's first minutes read as if every head came back within 5 minutes (returns in, misses not yet), and
   * a document asked about every two minutes is written for 5m to lapse. Exposure, not only outcomes: the
   * usual treatment of censoring in a hazard.
   */
  #headsAt(table: FamilyGaps, nowMs: number): FamilyGaps {
    const w = this.#windowMs;
    // Heads used after now - w are still open; those used between the last sweep and then closed unswept.
    const counts = this.store.open(
      HEADS_TABLE,
      Math.min(this.store.sweptAt() ?? nowMs, nowMs) - w,
      nowMs - w,
      nowMs,
    );
    if (counts.length === 0) return table;
    const out = { ...table, atRisk: [...table.atRisk], returns: [...table.returns] };
    // Open heads first, then closed ones: the order the sums were always taken in.
    for (const o of counts) if (o.late) noteSurvived(out, o.turns, 0, (o.n * nowMs - o.sumLastAt) / w);
    for (const o of counts) if (!o.late) noteSurvived(out, o.turns, 0, o.n);
    return out;
  }

  /** Whether a conversation of `family` has come back: a return still waiting for its window to close counts. */
  #familyBack(family: string): boolean {
    return this.store.family(family).returns.some((n) => n > 0) || this.store.hasPendingReturn(family);
  }

  /** False for a new conversation in a family where no conversation has come back yet (second sight). */
  mayReturn(conversation: string, family: string | null): boolean {
    if (this.store.get(conversation)) return true;
    return family !== null && this.#familyBack(family);
  }

  /**
   * What the keepalive policy needs to know of a conversation, or null if it was never seen: its family's
   * table narrowed by how its latest answer ended, where the answer said.
   */
  history(conversation: string): (GapHistory & { lastAt: number }) | null {
    const row = this.store.get(conversation);
    if (!row) return null;
    return {
      turns: row.turns,
      own: row.own,
      family: this.store.family(row.family),
      tenant: this.store.family(TENANT_TABLE),
      answer: row.answer ? this.store.family(answerTable(row.family, row.answer)) : null,
      familyBack: this.#familyBack(row.family),
      lastAt: row.lastAt,
    };
  }

  /**
   * How the next request of `conversation` (in `family`) is expected to be followed, and how the family's
   * head is: the learned return distributions (family shrunk to tenant shrunk to prior) for where each will
   * stand after that request. What the planner reads in place of fixed priors.
   */
  outlook(conversation: string, family: string, nowMs: number): Outlook {
    return this.outlooks(conversation, family, nowMs).outlook;
  }

  /**
   * The outlook of `conversation` and that of a conversation of `family` not seen yet (what a tracker answer
   * carries), sharing the head's distribution and the tables they read.
   */
  outlooks(
    conversation: string,
    family: string,
    nowMs: number,
  ): { outlook: Outlook; familyOutlook: Outlook } {
    const row = this.store.get(conversation);
    const familyTable = this.store.family(family);
    const rowTable = row && row.family !== family ? this.store.family(row.family) : familyTable;
    const tenantTable = this.store.family(TENANT_TABLE);
    const tail = (turns: number, own: ArrayLike<number>, table: FamilyGaps) =>
      returnDistribution({ turns, own, family: table, tenant: tenantTable });
    const heads = this.store.get(headKey(family));
    const headsTable = this.store.family(HEADS_TABLE);
    const headsNow = this.#headsAt(headsTable, nowMs);
    const head = headDistribution(headsNow, (heads?.turns ?? 0) + 1, heads?.own ?? emptyOwn());
    // Whether heads recur at all reads closed windows only: a head still open has not missed.
    const recur = headsRecur(headsTable);
    const headGaps = heads ? heads.own.reduce((a, b) => a + b, 0) : 0;
    const headLapse = newHeadLapse(headsExposure(headsNow));
    const lapse = headLapse === undefined ? {} : { headLapse };
    return {
      outlook: {
        tail: tail((row?.turns ?? 0) + 1, row?.own ?? emptyOwn(), rowTable),
        head,
        headsRecur: recur,
        headGaps,
        ...lapse,
        windowMs: this.#windowMs,
        reach: reachOf(rowTable, tenantTable),
      },
      familyOutlook: {
        tail: tail(1, emptyOwn(), familyTable),
        head,
        headsRecur: recur,
        headGaps,
        ...lapse,
        windowMs: this.#windowMs,
        reach: reachOf(familyTable, tenantTable),
      },
    };
  }
}

/**
 * Prior for the reach ratios, worth two returns: the APIs are stateless, so a conversation's next request
 * sends everything again, its last message included (0.9 for the last position); the positions before it,
 * even odds. Not fitted: the traces disagree by construction (a Mooncake request's partial last block never
 * recurs), so each tenant's own returns decide within a few of them.
 */
const REACH_PRIOR: readonly number[] = [0.9, 0.5, 0.5];
const REACH_WEIGHT = 2;

/** How often a return sends each of the previous request's last positions: family shrunk to tenant to prior. */
export function reachOf(family: FamilyGaps, tenant: FamilyGaps): number[] {
  const level = (r: FamilyGaps["reach"], base: readonly number[]) =>
    base.map((b, k) => ((r.sent[k] ?? 0) + REACH_WEIGHT * b) / (r.returns + REACH_WEIGHT));
  return level(family.reach, level(tenant.reach, REACH_PRIOR));
}

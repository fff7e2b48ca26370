import {
  type FamilyGaps,
  type GapHistory,
  noteIdle,
  noteOwnGap,
  noteReturn,
  noteUse,
  WINDOW_MS,
  WINDOWS,
} from "../decide/gaps.ts";

/** One conversation as stored: its family, turns so far, last request and own gap histogram. */
export interface ConversationEntry {
  family: string;
  turns: number;
  lastAt: number;
  own: number[];
}

/** Where conversations and family survival tables live: SQLite in the Tracker, memory in the replay. */
export interface ConversationStore {
  get(conversation: string): ConversationEntry | undefined;
  insert(conversation: string, family: string, at: number): void;
  /** One more turn at `at`, with the conversation's new own histogram. */
  update(conversation: string, at: number, own: number[]): void;
  family(family: string): FamilyGaps;
  saveFamily(family: string, table: FamilyGaps, at: number): void;
  /** Conversations whose last request lies in (fromMs, toMs], counted per family and turns. */
  idle(fromMs: number, toMs: number): { family: string; turns: number; n: number }[];
  sweptAt(): number | null;
  setSweptAt(nowMs: number): void;
}

/**
 * Conversations' rhythms and families' survival tables: what the keepalive policy learns from. The rules
 * live here once; the store is the Tracker's SQLite or the replay's memory.
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
   * Accounts a request of `conversation` at `at`: a return after its gap (in the family's table, at the
   * standing it had before), then a new idle period at risk in window 0.
   */
  noteRequest(conversation: string, family: string, at: number): void {
    const row = this.store.get(conversation);
    const survival = this.store.family(row?.family ?? family);
    if (!row) {
      noteUse(survival, 1);
      this.store.saveFamily(family, survival, at);
      this.store.insert(conversation, family, at);
      return;
    }
    const gap = Math.max(0, at - row.lastAt);
    noteReturn(survival, row.turns, gap, this.#windowMs);
    noteUse(survival, row.turns + 1);
    this.store.saveFamily(row.family, survival, at);
    this.store.update(conversation, at, noteOwnGap(row.own, gap, this.#windowMs));
  }

  /**
   * Counts, once, every idle window that opened since the last sweep: for window j, the conversations whose
   * last request lies in (previous sweep - j*window, now - j*window]. Conversations that never come back are
   * counted this way too; counting only on return would make returns look likelier than they are.
   */
  sweep(nowMs: number): void {
    const swept = this.store.sweptAt();
    const since = swept ?? nowMs;
    // A sweep more often than a tenth of a window adds nothing.
    if (swept !== null && nowMs - since < this.#windowMs / 10) return;
    const tables = new Map<string, FamilyGaps>();
    for (let j = 1; j < WINDOWS; j++) {
      for (const r of this.store.idle(since - j * this.#windowMs, nowMs - j * this.#windowMs)) {
        let table = tables.get(r.family);
        if (!table) {
          table = this.store.family(r.family);
          tables.set(r.family, table);
        }
        noteIdle(table, r.turns, j, r.n);
      }
    }
    for (const [family, table] of tables) this.store.saveFamily(family, table, nowMs);
    this.store.setSweptAt(nowMs);
  }

  /** False for a new conversation in a family where no conversation has come back yet (second sight). */
  mayReturn(conversation: string, family: string | null): boolean {
    if (this.store.get(conversation)) return true;
    if (family === null) return false;
    return this.store.family(family).returns.some((n) => n > 0);
  }

  /** What the policy needs to know of a conversation, or null if it was never seen. */
  history(conversation: string): (GapHistory & { lastAt: number }) | null {
    const row = this.store.get(conversation);
    if (!row) return null;
    return { turns: row.turns, own: row.own, family: this.store.family(row.family), lastAt: row.lastAt };
  }
}

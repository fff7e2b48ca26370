import {
  decodeFamily,
  decodeOwn,
  encodeFamily,
  encodeOwn,
  type GapHistory,
  noteIdle,
  noteOwnGap,
  noteReturn,
  noteUse,
  WINDOW_MS,
  WINDOWS,
} from "../keepalive/gaps.ts";

interface ConversationRow extends Record<string, SqlStorageValue> {
  family: string;
  turns: number;
  last_at: number;
  own: ArrayBuffer | null;
}

/** Conversations' rhythms and families' survival tables: what the keepalive policy learns from. */
export class Conversations {
  readonly #sql: SqlStorage;
  /** When the last sweep ran (meta `idle_swept`), once read: only `sweep` writes it. */
  #swept: number | null | undefined;
  /** Width of the gap windows: the deploy's 5m TTL (shorter where ANTHROPIC_CACHE_TTL_SECONDS says so). */
  readonly #windowMs: number;

  constructor(sql: SqlStorage, windowMs: number = WINDOW_MS) {
    this.#sql = sql;
    this.#windowMs = windowMs;
  }

  /** The stored sweep time is gone (the object's storage was deleted): read it again next time. */
  forgetSweep(): void {
    this.#swept = undefined;
  }

  /**
   * Accounts a request of `conversation` at `at`: a return after its gap (in the family's table, at the
   * standing it had before), then a new idle period at risk in window 0.
   */
  noteRequest(conversation: string, family: string, at: number): void {
    const row = this.#row(conversation);
    const survival = this.#family(row?.family ?? family);
    if (!row) {
      noteUse(survival, 1);
      this.#saveFamily(family, survival, at);
      this.#sql.exec(
        "INSERT INTO conversations (conversation, family, turns, last_at, own) VALUES (?, ?, 1, ?, NULL)",
        conversation,
        family,
        at,
      );
      return;
    }
    const gap = Math.max(0, at - row.last_at);
    noteReturn(survival, row.turns, gap, this.#windowMs);
    noteUse(survival, row.turns + 1);
    this.#saveFamily(row.family, survival, at);
    const own = noteOwnGap(decodeOwn(row.own), gap, this.#windowMs);
    this.#sql.exec(
      "UPDATE conversations SET turns = turns + 1, last_at = ?, own = ? WHERE conversation = ?",
      at,
      blob(encodeOwn(own)),
      conversation,
    );
  }

  /**
   * Counts, once, every idle window that opened since the last sweep: for window j, the conversations whose
   * last request lies in (previous sweep - j*window, now - j*window]. Conversations that never come back are
   * counted this way too; counting only on return would make returns look likelier than they are.
   */
  sweep(nowMs: number): void {
    if (this.#swept === undefined) {
      const last = this.#sql
        .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'idle_swept'")
        .toArray()[0];
      this.#swept = last ? Number(last.value) : null;
    }
    const since = this.#swept ?? nowMs;
    // A sweep more often than a tenth of a window adds nothing.
    if (this.#swept !== null && nowMs - since < this.#windowMs / 10) return;
    const tables = new Map<string, ReturnType<typeof decodeFamily>>();
    for (let j = 1; j < WINDOWS; j++) {
      const rows = this.#sql
        .exec<{ family: string; turns: number; n: number }>(
          `SELECT family, turns, COUNT(*) AS n FROM conversations WHERE last_at > ? AND last_at <= ? GROUP BY family, turns`,
          since - j * this.#windowMs,
          nowMs - j * this.#windowMs,
        )
        .toArray();
      for (const r of rows) {
        let table = tables.get(r.family);
        if (!table) {
          table = this.#family(r.family);
          tables.set(r.family, table);
        }
        noteIdle(table, r.turns, j, r.n);
      }
    }
    for (const [family, table] of tables) this.#saveFamily(family, table, nowMs);
    this.#sql.exec(
      "INSERT INTO meta (key, value) VALUES ('idle_swept', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      String(nowMs),
    );
    this.#swept = nowMs;
  }

  /** False for a new conversation in a family where no conversation has come back yet (second sight). */
  mayReturn(conversation: string, family: string | null): boolean {
    if (this.#row(conversation)) return true;
    if (family === null) return false;
    return this.#family(family).returns.some((n) => n > 0);
  }

  /** What the policy needs to know of a conversation, or null if it was never seen. */
  history(conversation: string): (GapHistory & { lastAt: number }) | null {
    const row = this.#row(conversation);
    if (!row) return null;
    const stored = this.#sql
      .exec<{ survival: ArrayBuffer }>("SELECT survival FROM family_gaps WHERE family = ?", row.family)
      .toArray()[0];
    return {
      turns: row.turns,
      own: decodeOwn(row.own),
      family: stored ? decodeFamily(stored.survival) : null,
      lastAt: row.last_at,
    };
  }

  /** Drops the oldest conversations and families beyond the caps. */
  trim(maxConversations: number, maxFamilies: number): void {
    this.#sql.exec(
      "DELETE FROM conversations WHERE conversation IN (SELECT conversation FROM conversations ORDER BY last_at DESC LIMIT -1 OFFSET ?)",
      maxConversations,
    );
    this.#sql.exec(
      "DELETE FROM family_gaps WHERE family IN (SELECT family FROM family_gaps ORDER BY at DESC LIMIT -1 OFFSET ?)",
      maxFamilies,
    );
  }

  #row(conversation: string): ConversationRow | undefined {
    return this.#sql
      .exec<ConversationRow>(
        "SELECT family, turns, last_at, own FROM conversations WHERE conversation = ?",
        conversation,
      )
      .toArray()[0];
  }

  #family(family: string) {
    const stored = this.#sql
      .exec<{ survival: ArrayBuffer }>("SELECT survival FROM family_gaps WHERE family = ?", family)
      .toArray()[0];
    return decodeFamily(stored?.survival ?? null);
  }

  #saveFamily(family: string, survival: ReturnType<typeof decodeFamily>, at: number): void {
    this.#sql.exec(
      "INSERT INTO family_gaps (family, at, survival) VALUES (?, ?, ?) ON CONFLICT (family) DO UPDATE SET at = excluded.at, survival = excluded.survival",
      family,
      at,
      blob(encodeFamily(survival)),
    );
  }
}

/** SQLite bindings take an ArrayBuffer, not a view. */
function blob(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

import { decodeFamily, decodeOwn, encodeFamily, encodeOwn, type FamilyGaps } from "../decide/gaps.ts";
import type { AnswerEnd } from "../upstream/answer.ts";
import type {
  ConversationEntry,
  ConversationStore,
  DueReturns,
  Ends,
  IdleCount,
  OpenCount,
  PendingReturn,
} from "./conversation-state.ts";

interface ConversationRow extends Record<string, SqlStorageValue> {
  family: string;
  turns: number;
  last_at: number;
  own: ArrayBuffer | null;
  ends: string | null;
  answer: string | null;
}

/** A stored answer end; anything else (a row from before v10) reads as unknown. */
function answerOf(v: string | null): AnswerEnd | null {
  return v === "tool" || v === "reply" ? v : null;
}

/** `ends` as one column: the hashes joined by spaces (chain hashes hold none). */
function encodeEnds(e: Ends): string {
  return e.join(" ");
}

function decodeEnds(s: string | null): Ends {
  return s ? s.split(" ").filter((h) => h.length > 0) : [];
}

/** The `conversations`, `family_gaps` and `pending_returns` tables, and the `idle_swept` meta key. */
export class SqlConversationStore implements ConversationStore {
  readonly #sql: SqlStorage;
  /** When the last sweep ran (meta `idle_swept`), once read: only `setSweptAt` writes it. */
  #swept: number | null | undefined;
  /** Rows held for one record (`hold`): by key, null where the table has none. */
  #held: HeldRows | null = null;
  /** Counts the writes to the held tables: rows set aside (`setAside`) are held again only if none came since. */
  #writes = 0;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /** What was stored is gone (rolled back, or the storage deleted): read the sweep time and rows again. */
  forget(): void {
    this.#swept = undefined;
    this.#held = null;
    this.#writes++;
  }

  /**
   * From here until `release`, rows read or written are kept in memory and read from there: for one record,
   * during which nothing else writes these tables, so each row is read once (the answer's outlooks read
   * again what the update just wrote). Bounded by what one record touches.
   */
  hold(aside?: AsideRows): void {
    this.#held =
      aside && aside.writes === this.#writes ? aside.held : { rows: new Map(), families: new Map() };
  }

  release(): void {
    this.#held = null;
  }

  /**
   * Stops holding, keeping what was held to `hold` again after an await (a record reads its conversation
   * before sealing its capture): held again only if no write to the table came meanwhile.
   */
  setAside(): AsideRows {
    const held = this.#held ?? { rows: new Map(), families: new Map() };
    this.#held = null;
    return { held, writes: this.#writes };
  }

  get(conversation: string): ConversationEntry | undefined {
    const held = this.#held?.rows;
    let row = held?.get(conversation);
    if (row === undefined) {
      row =
        this.#sql
          .exec<ConversationRow>(
            "SELECT family, turns, last_at, own, ends, answer FROM conversations WHERE conversation = ?",
            conversation,
          )
          .toArray()[0] ?? null;
      held?.set(conversation, row);
    }
    if (row === null) return undefined;
    return {
      family: row.family,
      turns: row.turns,
      lastAt: row.last_at,
      own: decodeOwn(row.own),
      ends: decodeEnds(row.ends),
      answer: answerOf(row.answer),
    };
  }

  insert(conversation: string, family: string, at: number, ends: Ends, answer: AnswerEnd | null): void {
    const encoded = encodeEnds(ends);
    this.#sql.exec(
      "INSERT INTO conversations (conversation, family, turns, last_at, own, ends, answer) VALUES (?, ?, 1, ?, NULL, ?, ?)",
      conversation,
      family,
      at,
      encoded,
      answer,
    );
    this.#writes++;
    this.#held?.rows.set(conversation, { family, turns: 1, last_at: at, own: null, ends: encoded, answer });
  }

  update(conversation: string, at: number, own: number[], ends: Ends, answer: AnswerEnd | null): void {
    const bytes = blob(encodeOwn(own));
    const encoded = encodeEnds(ends);
    this.#sql.exec(
      "UPDATE conversations SET turns = turns + 1, last_at = ?, own = ?, ends = ?, answer = ? WHERE conversation = ?",
      at,
      bytes,
      encoded,
      answer,
      conversation,
    );
    this.#writes++;
    const held = this.#held?.rows;
    const row = held?.get(conversation);
    // A row not held stays unknown (read when asked); a row held as absent was not updated.
    if (held && row)
      held.set(conversation, {
        ...row,
        turns: row.turns + 1,
        last_at: at,
        own: bytes,
        ends: encoded,
        answer,
      });
  }

  family(family: string): FamilyGaps {
    const held = this.#held?.families;
    let survival = held?.get(family);
    if (survival === undefined) {
      survival =
        this.#sql
          .exec<{ survival: ArrayBuffer }>("SELECT survival FROM family_gaps WHERE family = ?", family)
          .toArray()[0]?.survival ?? null;
      held?.set(family, survival);
    }
    return decodeFamily(survival);
  }

  saveFamilies(tables: ReadonlyMap<string, FamilyGaps>, at: number): void {
    const rows = [...tables].map(([family, table]) => [family, blob(encodeFamily(table))] as const);
    // One statement per FAMILIES_PER_WRITE tables: three bound values each, at most 100 per statement.
    for (let i = 0; i < rows.length; i += FAMILIES_PER_WRITE) {
      const chunk = rows.slice(i, i + FAMILIES_PER_WRITE);
      this.#sql.exec(
        `INSERT INTO family_gaps (family, at, survival) VALUES ${chunk.map(() => "(?, ?, ?)").join(", ")}
           ON CONFLICT (family) DO UPDATE SET at = excluded.at, survival = excluded.survival`,
        ...chunk.flatMap(([family, bytes]) => [family, at, bytes]),
      );
    }
    this.#writes++;
    for (const [family, bytes] of rows) this.#held?.families.set(family, bytes);
  }

  idle(fromMs: number, toMs: number): IdleCount[] {
    return this.#sql
      .exec<{ family: string; turns: number; answer: string | null; n: number }>(
        "SELECT family, turns, answer, COUNT(*) AS n FROM conversations WHERE last_at > ? AND last_at <= ? GROUP BY family, turns, answer",
        fromMs,
        toMs,
      )
      .toArray()
      .map((r) => ({ family: r.family, turns: r.turns, answer: answerOf(r.answer), n: r.n }));
  }

  open(family: string, fromMs: number, splitMs: number, toMs: number): OpenCount[] {
    return this.#sql
      .exec<{ turns: number; late: number; n: number; s: number }>(
        "SELECT turns, last_at > ? AS late, COUNT(*) AS n, SUM(last_at) AS s FROM conversations WHERE last_at > ? AND last_at <= ? AND family = ? GROUP BY turns, late",
        splitMs,
        fromMs,
        toMs,
        family,
      )
      .toArray()
      .map((r) => ({ turns: r.turns, late: r.late === 1, n: r.n, sumLastAt: r.s }));
  }

  sweptAt(): number | null {
    if (this.#swept === undefined) {
      const last = this.#sql
        .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'idle_swept'")
        .toArray()[0];
      this.#swept = last ? Number(last.value) : null;
    }
    return this.#swept;
  }

  setSweptAt(nowMs: number): void {
    this.#sql.exec(
      "INSERT INTO meta (key, value) VALUES ('idle_swept', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      String(nowMs),
    );
    this.#swept = nowMs;
  }

  deferReturns(returns: readonly PendingReturn[]): void {
    // One statement per RETURNS_PER_WRITE returns: four bound values each, at most 100 per statement.
    for (let i = 0; i < returns.length; i += RETURNS_PER_WRITE) {
      const chunk = returns.slice(i, i + RETURNS_PER_WRITE);
      this.#sql.exec(
        `INSERT INTO pending_returns (due, tbl, turns, win) VALUES ${chunk.map(() => "(?, ?, ?, ?)").join(", ")}`,
        ...chunk.flatMap((r) => [r.due, r.table, r.turns, r.window]),
      );
    }
  }

  hasPendingReturn(table: string): boolean {
    return this.#sql.exec("SELECT 1 FROM pending_returns WHERE tbl = ? LIMIT 1", table).toArray().length > 0;
  }

  takeDueReturns(toMs: number): DueReturns[] {
    const due = this.#sql
      .exec<{ tbl: string; turns: number; win: number; n: number }>(
        "SELECT tbl, turns, win, COUNT(*) AS n FROM pending_returns WHERE due <= ? GROUP BY tbl, turns, win",
        toMs,
      )
      .toArray();
    if (due.length === 0) return [];
    this.#sql.exec("DELETE FROM pending_returns WHERE due <= ?", toMs);
    return due.map((r) => ({ table: r.tbl, turns: r.turns, window: r.win, n: r.n }));
  }

  /** Drops the oldest conversations and families beyond the caps. */
  trim(maxConversations: number, maxFamilies: number): void {
    this.#held = null;
    this.#writes++;
    this.#sql.exec(
      "DELETE FROM conversations WHERE conversation IN (SELECT conversation FROM conversations ORDER BY last_at DESC LIMIT -1 OFFSET ?)",
      maxConversations,
    );
    this.#sql.exec(
      "DELETE FROM family_gaps WHERE family IN (SELECT family FROM family_gaps ORDER BY at DESC LIMIT -1 OFFSET ?)",
      maxFamilies,
    );
  }
}

const FAMILIES_PER_WRITE = 32;
const RETURNS_PER_WRITE = 25;

interface HeldRows {
  rows: Map<string, ConversationRow | null>;
  families: Map<string, ArrayBuffer | null>;
}

/** Rows a record read before an await (`setAside`), with the count of writes they are true as of. */
export interface AsideRows {
  held: HeldRows;
  writes: number;
}

/** SQLite bindings take an ArrayBuffer, not a view. */
function blob(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

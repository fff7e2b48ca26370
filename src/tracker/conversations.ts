import { decodeFamily, decodeOwn, encodeFamily, encodeOwn, type FamilyGaps } from "../decide/gaps.ts";
import type { ConversationEntry, ConversationStore, Ends } from "./conversation-state.ts";

interface ConversationRow extends Record<string, SqlStorageValue> {
  family: string;
  turns: number;
  last_at: number;
  own: ArrayBuffer | null;
  ends: string | null;
}

/** `ends` as one column: the hashes joined by spaces (chain hashes hold none). */
function encodeEnds(e: Ends): string {
  return e.join(" ");
}

function decodeEnds(s: string | null): Ends {
  return s ? s.split(" ").filter((h) => h.length > 0) : [];
}

/** The `conversations` and `family_gaps` tables, and the `idle_swept` meta key. */
export class SqlConversationStore implements ConversationStore {
  readonly #sql: SqlStorage;
  /** When the last sweep ran (meta `idle_swept`), once read: only `setSweptAt` writes it. */
  #swept: number | null | undefined;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /** The stored sweep time is gone (rolled back, or the storage deleted): read it again next time. */
  forgetSweep(): void {
    this.#swept = undefined;
  }

  get(conversation: string): ConversationEntry | undefined {
    const row = this.#sql
      .exec<ConversationRow>(
        "SELECT family, turns, last_at, own, ends FROM conversations WHERE conversation = ?",
        conversation,
      )
      .toArray()[0];
    return (
      row && {
        family: row.family,
        turns: row.turns,
        lastAt: row.last_at,
        own: decodeOwn(row.own),
        ends: decodeEnds(row.ends),
      }
    );
  }

  insert(conversation: string, family: string, at: number, ends: Ends): void {
    this.#sql.exec(
      "INSERT INTO conversations (conversation, family, turns, last_at, own, ends) VALUES (?, ?, 1, ?, NULL, ?)",
      conversation,
      family,
      at,
      encodeEnds(ends),
    );
  }

  update(conversation: string, at: number, own: number[], ends: Ends): void {
    this.#sql.exec(
      "UPDATE conversations SET turns = turns + 1, last_at = ?, own = ?, ends = ? WHERE conversation = ?",
      at,
      blob(encodeOwn(own)),
      encodeEnds(ends),
      conversation,
    );
  }

  family(family: string): FamilyGaps {
    const stored = this.#sql
      .exec<{ survival: ArrayBuffer }>("SELECT survival FROM family_gaps WHERE family = ?", family)
      .toArray()[0];
    return decodeFamily(stored?.survival ?? null);
  }

  saveFamily(family: string, table: FamilyGaps, at: number): void {
    this.#sql.exec(
      "INSERT INTO family_gaps (family, at, survival) VALUES (?, ?, ?) ON CONFLICT (family) DO UPDATE SET at = excluded.at, survival = excluded.survival",
      family,
      at,
      blob(encodeFamily(table)),
    );
  }

  idle(fromMs: number, toMs: number): { family: string; turns: number; n: number }[] {
    return this.#sql
      .exec<{ family: string; turns: number; n: number }>(
        "SELECT family, turns, COUNT(*) AS n FROM conversations WHERE last_at > ? AND last_at <= ? GROUP BY family, turns",
        fromMs,
        toMs,
      )
      .toArray();
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
}

/** SQLite bindings take an ArrayBuffer, not a view. */
function blob(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

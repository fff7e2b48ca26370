import type { Sealed } from "../core/crypto.ts";

/**
 * The GPU pool object's SQLite: one row per (tenant, conversation) whose latest prompt a backend holds and a
 * keepalive touch might keep there. The prompt (the forwarded body, turned into a one-token request) is
 * sealed with the tenant's keepalive key (AES-GCM, src/core/crypto.ts) bound to the row's key. Rows go
 * when the policy gives up (horizon, touch limit), when the prefix is gone, and beyond MAX_ROWS (oldest use
 * first). Schema in code behind SCHEMA_VERSION, idempotent on every wake.
 */
export const SCHEMA_VERSION = 1;
export const MAX_ROWS = 2000;

export interface TouchRow extends Record<string, SqlStorageValue> {
  tenant: string;
  key: string;
  backend: number;
  endpoint: string;
  tokens: number;
  chunks: string;
  iv: ArrayBuffer;
  sealed: ArrayBuffer;
  last_use: number;
  uses: number;
  touches: number;
  next_at: number | null;
}

export interface TouchUpsert {
  tenant: string;
  key: string;
  backend: number;
  endpoint: string;
  tokens: number;
  chunks: string[];
  sealed: Sealed;
  at: number;
  nextAt: number | null;
}

export function migrateTouches(sql: SqlStorage): void {
  sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  const row = sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'schema'").toArray()[0];
  if (Number(row?.value ?? 0) >= SCHEMA_VERSION) return;
  sql.exec(`CREATE TABLE IF NOT EXISTS touches (
    tenant TEXT NOT NULL, key TEXT NOT NULL, backend INTEGER NOT NULL, endpoint TEXT NOT NULL,
    tokens INTEGER NOT NULL, chunks TEXT NOT NULL, iv BLOB NOT NULL, sealed BLOB NOT NULL,
    last_use INTEGER NOT NULL, uses INTEGER NOT NULL, touches INTEGER NOT NULL, next_at INTEGER,
    PRIMARY KEY (tenant, key))`);
  sql.exec("CREATE INDEX IF NOT EXISTS touches_next ON touches (next_at)");
  sql.exec(
    "INSERT INTO meta (key, value) VALUES ('schema', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    String(SCHEMA_VERSION),
  );
}

export class TouchStore {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /** A real request: the conversation's newest prompt replaces the row's, its use is counted, touches restart. */
  upsert(u: TouchUpsert): void {
    this.#sql.exec(
      `INSERT INTO touches (tenant, key, backend, endpoint, tokens, chunks, iv, sealed, last_use, uses, touches, next_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0, ?)
       ON CONFLICT (tenant, key) DO UPDATE SET backend = excluded.backend, endpoint = excluded.endpoint,
         tokens = excluded.tokens, chunks = excluded.chunks, iv = excluded.iv, sealed = excluded.sealed,
         last_use = excluded.last_use, uses = touches.uses + 1, touches = 0, next_at = excluded.next_at`,
      u.tenant,
      u.key,
      u.backend,
      u.endpoint,
      u.tokens,
      JSON.stringify(u.chunks),
      u.sealed.iv,
      u.sealed.data,
      u.at,
      u.nextAt,
    );
    const { n } = this.#sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM touches").one();
    if (n > MAX_ROWS) {
      this.#sql.exec(
        "DELETE FROM touches WHERE rowid IN (SELECT rowid FROM touches ORDER BY last_use ASC LIMIT ?)",
        n - MAX_ROWS,
      );
    }
  }

  /**
   * Rows due by `nowMs`, claimed: their next look is cleared in the same synchronous step, so a second sweep
   * (alarm and cron, or a test) never touches one row twice.
   */
  claimDue(nowMs: number, limit: number): TouchRow[] {
    const rows = this.#sql
      .exec<TouchRow>("SELECT * FROM touches WHERE next_at <= ? ORDER BY next_at LIMIT ?", nowMs, limit)
      .toArray();
    for (const r of rows)
      this.#sql.exec("UPDATE touches SET next_at = NULL WHERE tenant = ? AND key = ?", r.tenant, r.key);
    return rows;
  }

  /** Tokens of the prompts on backend b that touches are holding now. */
  heldByTouches(b: number): number {
    return (
      this.#sql
        .exec<{ t: number | null }>(
          "SELECT SUM(tokens) AS t FROM touches WHERE backend = ? AND touches > 0",
          b,
        )
        .one().t ?? 0
    );
  }

  touched(r: TouchRow, nextAt: number | null): void {
    this.#sql.exec(
      "UPDATE touches SET touches = touches + 1, next_at = ? WHERE tenant = ? AND key = ? AND last_use = ?",
      nextAt,
      r.tenant,
      r.key,
      r.last_use,
    );
  }

  /** Look again later (nothing sent); ignored when a real request replaced the row meanwhile. */
  later(r: TouchRow, nextAt: number | null): void {
    this.#sql.exec(
      "UPDATE touches SET next_at = ? WHERE tenant = ? AND key = ? AND last_use = ?",
      nextAt,
      r.tenant,
      r.key,
      r.last_use,
    );
  }

  /** The policy gave up on it, or the prefix is gone. */
  drop(r: TouchRow): void {
    this.#sql.exec(
      "DELETE FROM touches WHERE tenant = ? AND key = ? AND last_use = ?",
      r.tenant,
      r.key,
      r.last_use,
    );
  }

  nextDue(): number | null {
    return this.#sql.exec<{ t: number | null }>("SELECT MIN(next_at) AS t FROM touches").one().t;
  }

  count(): number {
    return this.#sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM touches").one().n;
  }
}

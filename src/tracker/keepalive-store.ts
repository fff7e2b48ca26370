import type { Sealed } from "../core/crypto.ts";
import type { Provider } from "../core/provider.ts";
import { notePingRead, type PingReads } from "../decide/ping-reads.ts";

/** One conversation's keepalive candidate: the entry a ping would read, and its sealed request. */
export interface KeepaliveRow extends Record<string, SqlStorageValue> {
  conversation: string;
  hash: string;
  family: string;
  upstream: string;
  model: string;
  tokens: number;
  /** Tokens a lapse would lose: those beyond an entry that outlives this one (a 1h head); null: all (rows before v12). */
  exposed: number | null;
  iv: ArrayBuffer | null;
  sealed: ArrayBuffer | null;
  ttl: string;
  last_use: number;
  cached_until: number;
  pings: number;
  claimed_for: number | null;
  state: string;
  note: string | null;
}

/** A new or renewed candidate: the conversation's deepest entry a real request read or wrote. */
export interface Candidate {
  conversation: string;
  hash: string;
  family: string;
  upstream: string;
  model: string;
  tokens: number;
  /** Tokens a lapse would lose (beyond the deepest entry that outlives this one). */
  exposed: number;
  /** Null while the edge holds the request back (it follows, `attach`); a row without one is never pinged. */
  sealed: Sealed | null;
  ttl: string;
  at: number;
  cachedUntil: number;
}

/** The keepalive candidates, their deadlines, claims and spend: SQLite in the Tracker, memory in the replay. */
export interface KeepaliveCandidates {
  upsert(c: Candidate): void;
  /** Whether the conversation's live candidate points at `hash` and waits for its request (`attach`). */
  awaits(conversation: string, hash: string): boolean;
  /** The sealed request of a live candidate still pointing at `hash`; false when it moved on or ended. */
  attach(conversation: string, hash: string, sealed: Sealed): boolean;
  due(nowMs: number, leadMs: number, limit: number): KeepaliveRow[];
  claim(row: KeepaliveRow): boolean;
  refreshed(conversation: string, cachedUntil: number): void;
  end(conversation: string, state: "stopped" | "gone", note: string): void;
  expire(nowMs: number): void;
  nextDeadline(): number | null;
  spentOn(day: string): number;
  addSpend(day: string, usd: number): void;
  /** How often the tenant's pings to a provider found their entry. */
  pingReads(provider: Provider): PingReads | undefined;
  notePingRead(provider: Provider, read: boolean): void;
}

/** The earliest deadline of a live entry not yet claimed for it (`t`, null when there is none). */
export const NEXT_DEADLINE_SQL =
  "SELECT MIN(cached_until) AS t FROM keepalive WHERE state = 'live' AND (claimed_for IS NULL OR claimed_for <> cached_until)";

/** The `keepalive` table: candidates, their deadlines, claims (one ping per deadline) and outcomes. */
export class KeepaliveStore implements KeepaliveCandidates {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  /**
   * A real request read or wrote the conversation's deepest entry: it becomes (again) the live candidate. A
   * candidate without its request (held at the edge) keeps the one stored for the same entry meanwhile.
   */
  upsert(c: Candidate): void {
    this.#sql.exec(
      `INSERT INTO keepalive (conversation, hash, family, upstream, model, tokens, exposed, iv, sealed,
         ttl, last_use, cached_until, pings, claimed_for, state, note)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, 'live', NULL)
       ON CONFLICT (conversation) DO UPDATE SET hash = excluded.hash, family = excluded.family, model = excluded.model,
         tokens = excluded.tokens, exposed = excluded.exposed,
         iv = CASE WHEN excluded.sealed IS NULL AND hash = excluded.hash THEN iv ELSE excluded.iv END,
         sealed = CASE WHEN excluded.sealed IS NULL AND hash = excluded.hash THEN sealed ELSE excluded.sealed END,
         ttl = excluded.ttl,
         last_use = excluded.last_use, cached_until = excluded.cached_until, pings = 0, claimed_for = NULL,
         state = 'live', note = NULL`,
      c.conversation,
      c.hash,
      c.family,
      c.upstream,
      c.model,
      c.tokens,
      c.exposed,
      c.sealed?.iv ?? null,
      c.sealed?.data ?? null,
      c.ttl,
      c.at,
      c.cachedUntil,
    );
  }

  awaits(conversation: string, hash: string): boolean {
    return (
      this.#sql
        .exec(
          "SELECT 1 FROM keepalive WHERE conversation = ? AND hash = ? AND state = 'live' AND sealed IS NULL",
          conversation,
          hash,
        )
        .toArray().length > 0
    );
  }

  attach(conversation: string, hash: string, sealed: Sealed): boolean {
    return (
      this.#sql.exec(
        "UPDATE keepalive SET iv = ?, sealed = ? WHERE conversation = ? AND hash = ? AND state = 'live'",
        sealed.iv,
        sealed.data,
        conversation,
        hash,
      ).rowsWritten > 0
    );
  }

  /** Live candidates whose entry lapses within `leadMs` of `nowMs` and whose deadline is not yet claimed. */
  due(nowMs: number, leadMs: number, limit: number): KeepaliveRow[] {
    return this.#sql
      .exec<KeepaliveRow>(
        `SELECT * FROM keepalive WHERE state = 'live' AND cached_until > ? AND cached_until <= ?
           AND (claimed_for IS NULL OR claimed_for <> cached_until) ORDER BY cached_until LIMIT ?`,
        nowMs,
        nowMs + leadMs,
        limit,
      )
      .toArray();
  }

  /**
   * Claims the row's current deadline for one ping. Synchronous, before any await, so a cron run and an
   * alarm that both see the row cannot both ping it. False when someone else claimed it first.
   */
  claim(row: KeepaliveRow): boolean {
    return (
      this.#sql.exec(
        "UPDATE keepalive SET claimed_for = cached_until WHERE conversation = ? AND cached_until = ? AND (claimed_for IS NULL OR claimed_for <> cached_until)",
        row.conversation,
        row.cached_until,
      ).rowsWritten > 0
    );
  }

  /** The ping read the entry: its TTL restarts from the ping's start. */
  refreshed(conversation: string, cachedUntil: number): void {
    this.#sql.exec(
      "UPDATE keepalive SET cached_until = ?, pings = pings + 1 WHERE conversation = ?",
      cachedUntil,
      conversation,
    );
  }

  /** No more pings: the stored request is deleted with it (the entry goes cold). */
  end(conversation: string, state: "stopped" | "gone", note: string): void {
    this.#sql.exec(
      "UPDATE keepalive SET state = ?, note = ?, iv = NULL, sealed = NULL WHERE conversation = ?",
      state,
      note,
      conversation,
    );
  }

  /** Lapsed candidates nobody pinged (cold): their stored requests are deleted. */
  expire(nowMs: number): void {
    this.#sql.exec(
      "UPDATE keepalive SET state = 'stopped', note = COALESCE(note, 'lapsed'), iv = NULL, sealed = NULL WHERE state = 'live' AND cached_until <= ?",
      nowMs,
    );
  }

  /** The earliest deadline of a live, unclaimed candidate. */
  nextDeadline(): number | null {
    return this.#sql.exec<{ t: number | null }>(NEXT_DEADLINE_SQL).one().t;
  }

  /** Money spent on pings on a UTC day. */
  spentOn(day: string): number {
    return this.#sql.exec<{ usd: number }>("SELECT usd FROM spend WHERE day = ?", day).toArray()[0]?.usd ?? 0;
  }

  addSpend(day: string, usd: number): void {
    this.#sql.exec(
      "INSERT INTO spend (day, pings, usd) VALUES (?, 1, ?) ON CONFLICT (day) DO UPDATE SET pings = pings + 1, usd = usd + excluded.usd",
      day,
      usd,
    );
  }

  pingReads(provider: Provider): PingReads | undefined {
    return this.#allReads()[provider];
  }

  notePingRead(provider: Provider, read: boolean): void {
    const all = this.#allReads();
    all[provider] = notePingRead(all[provider], read);
    this.#sql.exec(
      "INSERT INTO meta (key, value) VALUES ('ping_reads', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      JSON.stringify(all),
    );
  }

  /** Meta `ping_reads`: per provider, pings sent and pings that read their entry. */
  #allReads(): Partial<Record<Provider, PingReads>> {
    const text = this.#sql
      .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'ping_reads'")
      .toArray()[0]?.value;
    if (!text) return {};
    try {
      const parsed = JSON.parse(text) as Partial<Record<Provider, PingReads>>;
      return typeof parsed === "object" && parsed !== null ? parsed : {};
    } catch {
      return {};
    }
  }
}

import type { Sealed } from "../core/crypto.ts";
import type { Provider } from "../core/provider.ts";
import { decodeFamily, decodeOwn, encodeFamily, encodeOwn, type FamilyGaps } from "../decide/gaps.ts";
import { notePingRead, type PingReads } from "../decide/ping-reads.ts";
import type { Calibration } from "../prefix/tokens.ts";
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
import type { Candidate, KeepaliveCandidates, KeepaliveRow } from "./keepalive-store.ts";
import type { FamilyRate, PlanInputStore } from "./plan-inputs.ts";
import { type PrefixRow, type PrefixUpdate, toState } from "./prefix-update.ts";
import type { PrefixStore } from "./record-state.ts";
import type { LookupResult, RecordRequest } from "./types.ts";

/**
 * The Tracker's decision state in memory, for the economics replay and the differential test: the same
 * interfaces as the SQLite stores, and the same encodings where the SQLite rows round values (histograms,
 * survival tables), so both answer alike. Row caps and retention are not applied (the Tracker's
 * housekeeping trims prefixes beyond LIMITS.prefixes; no replay here comes near it).
 */
export class MemoryPrefixStore implements PrefixStore {
  readonly #rows = new Map<string, PrefixRow>();

  rows(hashes: readonly string[]): Map<string, PrefixRow> {
    const out = new Map<string, PrefixRow>();
    for (const h of hashes) {
      const row = this.#rows.get(h);
      if (row) out.set(h, { ...row });
    }
    return out;
  }

  apply(_r: RecordRequest, update: PrefixUpdate): void {
    for (const c of update.changes) this.#rows.set(c.row.hash, { ...c.row });
  }

  /** What the Tracker's `lookup` answers. */
  lookup(hashes: readonly string[], nowMs: number): LookupResult {
    const out: LookupResult = {};
    for (const h of hashes) {
      const row = this.#rows.get(h);
      if (row) out[h] = toState(row, nowMs);
    }
    return out;
  }

  /** A ping read the entry. */
  refreshed(hash: string, cachedUntil: number): void {
    const row = this.#rows.get(hash);
    if (row) row.cached_until = cachedUntil;
  }
}

interface StoredConversation {
  family: string;
  turns: number;
  lastAt: number;
  own: Uint8Array | null;
  ends: Ends;
  answer: AnswerEnd | null;
}

export class MemoryConversationStore implements ConversationStore {
  readonly #conversations = new Map<string, StoredConversation>();
  readonly #families: Map<string, Uint8Array>;
  #swept: number | null = null;
  #pending: PendingReturn[] = [];

  /** `tables`: survival tables another store learned (`tables()`), and nothing else of it. */
  constructor(tables: ReadonlyMap<string, Uint8Array> = new Map()) {
    this.#families = new Map(tables);
  }

  /** The survival tables as stored (family, tenant, heads and answer tables): what a tenant has learned. */
  tables(): ReadonlyMap<string, Uint8Array> {
    return new Map(this.#families);
  }

  get(conversation: string): ConversationEntry | undefined {
    const c = this.#conversations.get(conversation);
    return (
      c && {
        family: c.family,
        turns: c.turns,
        lastAt: c.lastAt,
        own: decodeOwn(c.own),
        ends: [...c.ends],
        answer: c.answer,
      }
    );
  }

  insert(conversation: string, family: string, at: number, ends: Ends, answer: AnswerEnd | null): void {
    this.#conversations.set(conversation, {
      family,
      turns: 1,
      lastAt: at,
      own: null,
      ends: [...ends],
      answer,
    });
  }

  update(conversation: string, at: number, own: number[], ends: Ends, answer: AnswerEnd | null): void {
    const c = this.#conversations.get(conversation);
    if (!c) return;
    c.turns++;
    c.lastAt = at;
    c.own = encodeOwn(own);
    c.ends = [...ends];
    c.answer = answer;
  }

  family(family: string): FamilyGaps {
    return decodeFamily(this.#families.get(family) ?? null);
  }

  saveFamilies(tables: ReadonlyMap<string, FamilyGaps>): void {
    for (const [family, table] of tables) this.#families.set(family, encodeFamily(table));
  }

  idle(fromMs: number, toMs: number): IdleCount[] {
    const counts = new Map<string, IdleCount>();
    for (const c of this.#conversations.values()) {
      if (!(c.lastAt > fromMs && c.lastAt <= toMs)) continue;
      const key = `${c.family}\u0000${c.turns}\u0000${c.answer}`;
      const found = counts.get(key);
      if (found) found.n++;
      else counts.set(key, { family: c.family, turns: c.turns, answer: c.answer, n: 1 });
    }
    return [...counts.values()];
  }

  open(family: string, fromMs: number, splitMs: number, toMs: number): OpenCount[] {
    const counts = new Map<string, OpenCount>();
    for (const c of this.#conversations.values()) {
      if (c.family !== family || !(c.lastAt > fromMs && c.lastAt <= toMs)) continue;
      const late = c.lastAt > splitMs;
      const key = `${c.turns}:${late}`;
      const found = counts.get(key);
      if (found) {
        found.n++;
        found.sumLastAt += c.lastAt;
      } else counts.set(key, { turns: c.turns, late, n: 1, sumLastAt: c.lastAt });
    }
    return [...counts.values()];
  }

  sweptAt(): number | null {
    return this.#swept;
  }

  setSweptAt(nowMs: number): void {
    this.#swept = nowMs;
  }

  deferReturns(returns: readonly PendingReturn[]): void {
    for (const r of returns) this.#pending.push({ ...r });
  }

  hasPendingReturn(table: string): boolean {
    return this.#pending.some((r) => r.table === table);
  }

  takeDueReturns(toMs: number): DueReturns[] {
    const counts = new Map<string, DueReturns>();
    const kept: PendingReturn[] = [];
    for (const r of this.#pending) {
      if (r.due > toMs) {
        kept.push(r);
        continue;
      }
      const key = `${r.table}\u0000${r.turns}\u0000${r.window}`;
      const found = counts.get(key);
      if (found) found.n++;
      else counts.set(key, { table: r.table, turns: r.turns, window: r.window, n: 1 });
    }
    this.#pending = kept;
    return [...counts.values()];
  }
}

export class MemoryKeepaliveStore implements KeepaliveCandidates {
  readonly #rows = new Map<string, KeepaliveRow>();
  readonly #spend = new Map<string, number>();
  readonly #reads = new Map<Provider, PingReads>();

  pingReads(provider: Provider): PingReads | undefined {
    return this.#reads.get(provider);
  }

  notePingRead(provider: Provider, read: boolean): void {
    this.#reads.set(provider, notePingRead(this.#reads.get(provider), read));
  }

  upsert(c: Candidate): void {
    const old = this.#rows.get(c.conversation);
    // A candidate without its request keeps the one stored for the same entry (as the SQLite store does).
    const kept = c.sealed === null && old?.hash === c.hash ? old : null;
    this.#rows.set(c.conversation, {
      conversation: c.conversation,
      hash: c.hash,
      family: c.family,
      upstream: c.upstream,
      model: c.model,
      tokens: c.tokens,
      exposed: c.exposed,
      iv: kept ? kept.iv : (c.sealed?.iv ?? null),
      sealed: kept ? kept.sealed : (c.sealed?.data ?? null),
      ttl: c.ttl,
      last_use: c.at,
      cached_until: c.cachedUntil,
      pings: 0,
      claimed_for: null,
      state: "live",
      note: null,
    });
  }

  awaits(conversation: string, hash: string): boolean {
    const r = this.#rows.get(conversation);
    return r !== undefined && r.hash === hash && r.state === "live" && r.sealed === null;
  }

  attach(conversation: string, hash: string, sealed: Sealed): boolean {
    const r = this.#rows.get(conversation);
    if (!r || r.hash !== hash || r.state !== "live") return false;
    Object.assign(r, { iv: sealed.iv, sealed: sealed.data });
    return true;
  }

  due(nowMs: number, leadMs: number, limit: number): KeepaliveRow[] {
    return [...this.#rows.values()]
      .filter(
        (r) =>
          r.state === "live" &&
          r.cached_until > nowMs &&
          r.cached_until <= nowMs + leadMs &&
          r.claimed_for !== r.cached_until,
      )
      .sort((a, b) => a.cached_until - b.cached_until)
      .slice(0, limit)
      .map((r) => ({ ...r }));
  }

  claim(row: KeepaliveRow): boolean {
    const r = this.#rows.get(row.conversation);
    if (!r || r.cached_until !== row.cached_until || r.claimed_for === r.cached_until) return false;
    r.claimed_for = r.cached_until;
    return true;
  }

  refreshed(conversation: string, cachedUntil: number): void {
    const r = this.#rows.get(conversation);
    if (!r) return;
    r.cached_until = cachedUntil;
    r.pings++;
  }

  end(conversation: string, state: "stopped" | "gone", note: string): void {
    const r = this.#rows.get(conversation);
    if (!r) return;
    Object.assign(r, { state, note, iv: null, sealed: null });
  }

  expire(nowMs: number): void {
    for (const r of this.#rows.values()) {
      if (r.state === "live" && r.cached_until <= nowMs)
        Object.assign(r, { state: "stopped", note: r.note ?? "lapsed", iv: null, sealed: null });
    }
  }

  nextDeadline(): number | null {
    let next: number | null = null;
    for (const r of this.#rows.values()) {
      if (r.state !== "live" || r.claimed_for === r.cached_until) continue;
      if (next === null || r.cached_until < next) next = r.cached_until;
    }
    return next;
  }

  spentOn(day: string): number {
    return this.#spend.get(day) ?? 0;
  }

  addSpend(day: string, usd: number): void {
    this.#spend.set(day, (this.#spend.get(day) ?? 0) + usd);
  }
}

export class MemoryPlanInputStore implements PlanInputStore {
  readonly #rates = new Map<string, FamilyRate>();
  readonly #calibrations = new Map<string, Calibration>();

  rate(family: string): FamilyRate | undefined {
    const r = this.#rates.get(family);
    return r && { ...r };
  }

  setRate(family: string, rate: FamilyRate): void {
    this.#rates.set(family, { ...rate });
  }

  calibration(model: string): Calibration | undefined {
    const c = this.#calibrations.get(model);
    return c && { ...c };
  }

  setCalibration(model: string, c: Calibration): void {
    this.#calibrations.set(model, { ...c });
  }

  /** Every model's calibration. */
  calibrations(): ReadonlyMap<string, Calibration> {
    return new Map(this.#calibrations);
  }
}

import type { Sealed } from "../core/crypto.ts";
import type { ChainSummary } from "../prefix/diff.ts";
import { findBuster, MISS_SHARE, type RecentChain } from "./busters.ts";
import { LIMITS } from "./schema.ts";
import type { BusterFinding, RecordRequest } from "./types.ts";

/** A request that read at least the miss share of its prompt cannot be a buster's victim (see findBuster). */
function couldHaveMissed(r: RecordRequest): boolean {
  const u = r.usage;
  return u !== null && r.result === "ok" && u.cacheReadTokens < u.inputTokens * MISS_SHARE;
}

/** One row of `recent_chains` as held in memory: its text, parsed when a miss is diffed against it. */
interface HeldChain {
  id: number;
  at: number;
  cachedTokens: number;
  text: string;
  summary?: ChainSummary;
}

/** Newest first, as the table's index reads them (`at` descending, then `id`). */
const newestFirst = (a: HeldChain, b: HeldChain) => b.at - a.at || b.id - a.id;

/**
 * Summary text held at most: 1 MB as UTF-16, and the parsed summaries of the order of the text (a lineage of
 * 100K-token prompts holds about 150K characters).
 */
const MAX_HELD_CHARS = 1 << 19;

/**
 * The `recent_chains` rows of the lineages that diagnosed a miss lately, each lineage's rows all held (so
 * the rows beyond the newest LIMITS.chainsPerLineage are known without asking), their summaries parsed once:
 * a miss is diffed against them without reading and parsing them again. Bounded by MAX_HELD_CHARS of
 * summary text (the least recently used lineages go first). The Tracker forgets them whenever the table
 * changes other than through `diagnose` (housekeeping, a rollback, a purge).
 */
export class RecentChains {
  readonly #lineages = new Map<string, HeldChain[]>();
  readonly #maxChars: number;
  #chars = 0;

  constructor(maxChars = MAX_HELD_CHARS) {
    this.#maxChars = maxChars;
  }

  forget(): void {
    this.#lineages.clear();
    this.#chars = 0;
  }

  /** The lineage's rows, newest first, or undefined when they are not held. */
  get(lineage: string): HeldChain[] | undefined {
    const rows = this.#lineages.get(lineage);
    if (rows) {
      this.#lineages.delete(lineage); // most recently used last
      this.#lineages.set(lineage, rows);
    }
    return rows;
  }

  /** Holds a lineage's rows (newest first), unless they alone exceed the bound. */
  hold(lineage: string, rows: HeldChain[]): void {
    this.#drop(lineage);
    const chars = size(rows);
    if (chars > this.#maxChars) return;
    this.#lineages.set(lineage, rows);
    this.#chars += chars;
    for (const oldest of this.#lineages.keys()) {
      if (this.#chars <= this.#maxChars || oldest === lineage) break;
      this.#drop(oldest);
    }
  }

  #drop(lineage: string): void {
    const rows = this.#lineages.get(lineage);
    if (!rows) return;
    this.#lineages.delete(lineage);
    this.#chars -= size(rows);
  }
}

const size = (rows: readonly HeldChain[]) => rows.reduce((n, c) => n + c.text.length, 0);

/**
 * Looks for a cache-buster behind this request's miss, then keeps its chain for the next one. With `chains`,
 * the lineage's rows are held there once a miss has read them; without, every miss reads them again.
 */
export function diagnose(
  sql: SqlStorage,
  r: RecordRequest,
  excerpts: Map<number, Sealed> = new Map(),
  chains?: RecentChains,
): void {
  const lineage = `${r.upstream}:${r.model}`;
  let held = chains?.get(lineage);
  // Only a miss can have a buster behind it: skip reading and parsing the recent chains otherwise.
  let recent: RecentChain[] = [];
  if (couldHaveMissed(r)) {
    let rows = held;
    if (!rows) {
      rows = sql
        .exec<{ id: number; at: number; cached_tokens: number; summary: string }>(
          "SELECT id, at, cached_tokens, summary FROM recent_chains WHERE lineage = ? ORDER BY at DESC, id DESC",
          lineage,
        )
        .toArray()
        .map((row) => ({ id: row.id, at: row.at, cachedTokens: row.cached_tokens, text: row.summary }));
      if (chains) {
        chains.hold(lineage, rows);
        held = rows;
      }
    }
    recent = rows.slice(0, LIMITS.chainsPerLineage).flatMap((c) => {
      c.summary ??= JSON.parse(c.text) as ChainSummary;
      // A row stored before summaries were columns (an object per segment, no `layout`) explains nothing.
      return typeof c.summary.layout === "string"
        ? [{ at: c.at, cachedTokens: c.cachedTokens, summary: c.summary }]
        : [];
    });
  }
  const finding = findBuster(r, recent);
  if (finding) {
    const excerpt = excerptFor(excerpts, finding.segment);
    sql.exec(
      `INSERT INTO busters (at, request_id, upstream, model, kind, segment, message, volatile, tokens_lost, cost_usd,
          excerpt_iv, excerpt, provider_reason, provider_missed_tokens)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      finding.at,
      finding.requestId,
      r.upstream,
      r.model,
      finding.kind,
      finding.segment,
      finding.message,
      finding.volatile ? 1 : 0,
      finding.tokensLost,
      finding.costUsd,
      excerpt?.iv ?? null,
      excerpt?.data ?? null,
      r.providerMiss?.reason ?? null,
      r.providerMiss?.missedTokens ?? null,
    );
  }
  const u = r.usage;
  const cached = u ? u.cacheReadTokens + u.cacheWrite5mTokens + u.cacheWrite1hTokens : 0;
  const text = JSON.stringify(r.chain);
  const { id } = sql
    .exec<{ id: number }>(
      "INSERT INTO recent_chains (lineage, at, cached_tokens, summary) VALUES (?, ?, ?, ?) RETURNING id",
      lineage,
      r.at,
      cached,
      text,
    )
    .one();
  if (!held) {
    sql.exec(
      `DELETE FROM recent_chains WHERE lineage = ? AND id NOT IN
          (SELECT id FROM recent_chains WHERE lineage = ? ORDER BY at DESC, id DESC LIMIT ?)`,
      lineage,
      lineage,
      LIMITS.chainsPerLineage,
    );
    return;
  }
  // Every row of the lineage is held: those past the newest few go by id, as the statement above would.
  const rows = [...held, { id, at: r.at, cachedTokens: cached, text }].sort(newestFirst);
  for (const c of rows.splice(LIMITS.chainsPerLineage))
    sql.exec("DELETE FROM recent_chains WHERE id = ?", c.id);
  chains?.hold(lineage, rows);
}

/** The excerpt of the diverging segment, else of the nearest volatile segment before it. */
function excerptFor(excerpts: Map<number, Sealed>, segment: number): Sealed | undefined {
  if (excerpts.has(segment)) return excerpts.get(segment);
  let best: number | undefined;
  for (const s of excerpts.keys()) if (s <= segment && (best === undefined || s > best)) best = s;
  return best === undefined ? excerpts.values().next().value : excerpts.get(best);
}

/** The newest cache-buster findings. */
export function listBusters(sql: SqlStorage, limit: number): BusterFinding[] {
  return sql
    .exec<Record<string, SqlStorageValue>>(
      "SELECT * FROM busters ORDER BY at DESC, id DESC LIMIT ?",
      Math.max(1, Math.min(1000, Math.floor(limit))),
    )
    .toArray()
    .map((row) => ({
      at: row.at as number,
      requestId: row.request_id as string,
      kind: row.kind as string,
      segment: row.segment as number,
      message: row.message as number | null,
      volatile: row.volatile === 1,
      tokensLost: row.tokens_lost as number,
      costUsd: row.cost_usd as number,
      providerReason: (row.provider_reason as string | null) ?? null,
    }));
}

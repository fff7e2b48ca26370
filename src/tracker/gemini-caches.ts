import { SIM_NOW_HEADER } from "../core/clock.ts";
import type { GeminiCacheRef } from "../plan/gemini.ts";

// v7: Gemini explicit caches Stoker created for this tenant (the names never leave its tracker), and short
// claims that keep two isolates from creating the same cache at once.
export const GEMINI_CACHES_V7 = [
  `CREATE TABLE IF NOT EXISTS gemini_caches (
    name TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    model TEXT NOT NULL,
    contents INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expire_at INTEGER NOT NULL,
    last_use INTEGER NOT NULL,
    uses INTEGER NOT NULL
  )`,
  `CREATE INDEX IF NOT EXISTS gemini_caches_hash ON gemini_caches (hash)`,
  `CREATE TABLE IF NOT EXISTS gemini_claims (hash TEXT PRIMARY KEY, until INTEGER NOT NULL)`,
];

// v8: the forwarded headers of the request that created a cache (credentials removed), so the tracker can
// delete it at the provider on its own once returns stop paying its storage (gemini-review.ts).
export const GEMINI_CACHES_V8 = [`ALTER TABLE gemini_caches ADD COLUMN headers TEXT`];

// v9: the review reads live caches by expiry (gemini-review.ts) on every reschedule: without an index it
// sorted the whole table (up to 10,000 rows) each time.
export const GEMINI_CACHES_V9 = [
  `CREATE INDEX IF NOT EXISTS gemini_caches_expire ON gemini_caches (expire_at)`,
];

/** A cache Stoker holds for the tenant, as the edge plans with it. */
export interface GeminiCacheState extends GeminiCacheRef {
  expireAt: number;
  uses: number;
}

/** What the tracker knows of a boundary's chain hash: how often it came back. */
export interface PrefixHistory {
  hash: string;
  seen: number;
  firstSeen: number;
  lastSeen: number;
}

/** Caches old enough to drop (long expired); a tenant keeps at most this many rows. */
const KEEP_EXPIRED_MS = 35 * 24 * 3600_000;
const MAX_ROWS = 10_000;
const CLAIM_MS = 60_000;

/** Live caches ending at one of `hashes` for `model`, expiring no sooner than `marginMs` from now. */
export function liveCaches(
  sql: SqlStorage,
  hashes: readonly string[],
  model: string,
  nowMs: number,
  marginMs: number,
): GeminiCacheState[] {
  if (hashes.length === 0) return [];
  const marks = hashes.map(() => "?").join(",");
  return sql
    .exec<{
      name: string;
      hash: string;
      model: string;
      contents: number;
      tokens: number;
      expire_at: number;
      uses: number;
    }>(
      `SELECT name, hash, model, contents, tokens, expire_at, uses FROM gemini_caches
       WHERE hash IN (${marks}) AND model = ? AND expire_at > ? ORDER BY contents DESC`,
      ...hashes,
      model,
      nowMs + marginMs,
    )
    .toArray()
    .map((r) => ({
      name: r.name,
      hash: r.hash,
      model: r.model,
      contents: r.contents,
      tokens: r.tokens,
      expireAt: r.expire_at,
      uses: r.uses,
    }));
}

/** How often each hash was seen (prefixes table), for the creation decision. */
export function prefixHistory(sql: SqlStorage, hashes: readonly string[]): PrefixHistory[] {
  if (hashes.length === 0) return [];
  const marks = hashes.map(() => "?").join(",");
  return sql
    .exec<{ hash: string; seen: number; first_seen: number; last_seen: number }>(
      `SELECT hash, seen, first_seen, last_seen FROM prefixes WHERE hash IN (${marks})`,
      ...hashes,
    )
    .toArray()
    .map((r) => ({ hash: r.hash, seen: r.seen, firstSeen: r.first_seen, lastSeen: r.last_seen }));
}

/** USD Stoker spent on this tenant's explicit caches (creation and storage bought) since `sinceMs`. */
export function explicitSpendSince(sql: SqlStorage, sinceMs: number): number {
  return (
    sql
      .exec<{ usd: number | null }>(
        "SELECT SUM(cost_usd) AS usd FROM requests WHERE endpoint LIKE 'cached_contents.%' AND at >= ?",
        sinceMs,
      )
      .toArray()[0]?.usd ?? 0
  );
}

/** Takes the right to create a cache for `hash` for a minute; false when another creation holds it or one is live. */
export function claim(sql: SqlStorage, hash: string, model: string, nowMs: number): boolean {
  const live = sql
    .exec(
      "SELECT 1 FROM gemini_caches WHERE hash = ? AND model = ? AND expire_at > ? LIMIT 1",
      hash,
      model,
      nowMs,
    )
    .toArray();
  if (live.length > 0) return false;
  const held = sql.exec("SELECT 1 FROM gemini_claims WHERE hash = ? AND until > ?", hash, nowMs).toArray();
  if (held.length > 0) return false;
  sql.exec(
    "INSERT INTO gemini_claims (hash, until) VALUES (?, ?) ON CONFLICT (hash) DO UPDATE SET until = excluded.until",
    hash,
    nowMs + CLAIM_MS,
  );
  return true;
}

/**
 * Stores a cache the provider created, with the headers to address it by (credentials removed); releases
 * its claim and drops rows long expired.
 */
export function created(
  sql: SqlStorage,
  ref: GeminiCacheRef,
  nowMs: number,
  expireAt: number,
  headers: [string, string][] = [],
): void {
  sql.exec("DELETE FROM gemini_claims WHERE hash = ? OR until < ?", ref.hash, nowMs);
  sql.exec(
    `INSERT INTO gemini_caches (name, hash, model, contents, tokens, created_at, expire_at, last_use, uses, headers)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?) ON CONFLICT (name) DO NOTHING`,
    ref.name,
    ref.hash,
    ref.model,
    ref.contents,
    ref.tokens,
    nowMs,
    expireAt,
    nowMs,
    JSON.stringify(headers),
  );
  sql.exec("DELETE FROM gemini_caches WHERE expire_at < ?", nowMs - KEEP_EXPIRED_MS);
  sql.exec(
    "DELETE FROM gemini_caches WHERE name IN (SELECT name FROM gemini_caches ORDER BY expire_at DESC LIMIT -1 OFFSET ?)",
    MAX_ROWS,
  );
}

/** Releases a claim whose creation failed or did not pay. */
export function release(sql: SqlStorage, hash: string): void {
  sql.exec("DELETE FROM gemini_claims WHERE hash = ?", hash);
}

/** Counts a request served by the cache and, when its TTL was extended, the new expiry. */
export function used(sql: SqlStorage, name: string, nowMs: number, expireAt: number | null): void {
  sql.exec(
    "UPDATE gemini_caches SET uses = uses + 1, last_use = ?, expire_at = MAX(expire_at, COALESCE(?, expire_at)) WHERE name = ?",
    nowMs,
    expireAt,
    name,
  );
}

const NAME = /^cachedContents\/[A-Za-z0-9_-]{1,128}$/;
const MODEL = /^[A-Za-z0-9._-]{1,100}$/;

/** Checks a cache reference from the edge (names and hashes only; nothing else is stored). */
export function validCacheRef(ref: unknown): ref is GeminiCacheRef {
  if (ref === null || typeof ref !== "object") return false;
  const r = ref as Record<string, unknown>;
  return (
    typeof r.name === "string" &&
    NAME.test(r.name) &&
    typeof r.model === "string" &&
    MODEL.test(r.model) &&
    typeof r.hash === "string" &&
    /^[A-Za-z0-9_-]{8,128}$/.test(r.hash) &&
    Number.isSafeInteger(r.contents) &&
    (r.contents as number) >= 0 &&
    Number.isSafeInteger(r.tokens) &&
    (r.tokens as number) > 0
  );
}

/** A model id the tracker accepts. */
export function validModel(model: unknown): model is string {
  return typeof model === "string" && MODEL.test(model);
}

/** A cache name the tracker accepts. */
export function validName(name: unknown): name is string {
  return typeof name === "string" && NAME.test(name);
}

/** The live caches soonest to expire, with their prefixes' history: read on every reschedule (v9's index). */
export const REVIEWABLE_SQL = `SELECT c.name, c.hash, c.model, c.tokens, c.expire_at, c.last_use, c.created_at, c.headers,
              p.seen, p.first_seen, p.last_seen
         FROM gemini_caches c LEFT JOIN prefixes p ON p.hash = c.hash
        WHERE c.expire_at > ? ORDER BY c.expire_at LIMIT ?`;

/** A live cache with what its review weighs: its prefix's history and the headers to address it by. */
export interface ReviewedCache {
  name: string;
  hash: string;
  model: string;
  tokens: number;
  expireAt: number;
  lastSeen: number;
  seen: number;
  firstSeen: number;
  headers: [string, string][];
}

/** Live caches (at most `limit`, soonest expiry first) with their prefixes' rows, for the deletion review. */
export function reviewable(sql: SqlStorage, nowMs: number, limit: number): ReviewedCache[] {
  return sql
    .exec<{
      name: string;
      hash: string;
      model: string;
      tokens: number;
      expire_at: number;
      last_use: number;
      created_at: number;
      seen: number | null;
      first_seen: number | null;
      last_seen: number | null;
      headers: string | null;
    }>(REVIEWABLE_SQL, nowMs, limit)
    .toArray()
    .map((r) => ({
      name: r.name,
      hash: r.hash,
      model: r.model,
      tokens: r.tokens,
      expireAt: r.expire_at,
      lastSeen: Math.max(r.last_use, r.last_seen ?? 0),
      seen: r.seen ?? 1,
      firstSeen: r.first_seen ?? r.created_at,
      headers: parseHeaders(r.headers),
    }));
}

function parseHeaders(raw: string | null): [string, string][] {
  try {
    const v = JSON.parse(raw ?? "[]") as unknown;
    return validHeaders(v) ? v : [];
  } catch {
    return [];
  }
}

/** The latest expiry among the stored caches (0 when there are none): no cache is live after it. */
export function latestExpiry(sql: SqlStorage): number {
  return sql.exec<{ at: number | null }>("SELECT MAX(expire_at) AS at FROM gemini_caches").one().at ?? 0;
}

/** Marks a cache deleted at the provider (or found gone there): it ends now. */
export function ended(sql: SqlStorage, name: string, nowMs: number): void {
  sql.exec("UPDATE gemini_caches SET expire_at = MIN(expire_at, ?) WHERE name = ?", nowMs, name);
}

/** Header names never stored with a cache: credentials, and Stoker's own. */
const SECRET_HEADER = /^(x-goog-api-key|authorization|x-api-key|cookie|proxy-authorization|x-stoker-.*)$/i;

/** Forwarded headers a cache may keep: at most 64 short pairs, none of them a credential. */
export function validHeaders(v: unknown): v is [string, string][] {
  return (
    Array.isArray(v) &&
    v.length <= 64 &&
    v.every(
      (h) =>
        Array.isArray(h) &&
        h.length === 2 &&
        typeof h[0] === "string" &&
        typeof h[1] === "string" &&
        h[0].length <= 100 &&
        h[1].length <= 1000 &&
        !SECRET_HEADER.test(h[0]),
    )
  );
}

/** The headers of `headers` a cache keeps (validHeaders' rule). */
export function keptHeaders(headers: Headers): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of headers) {
    if (SECRET_HEADER.test(k) || k === "content-length" || k === SIM_NOW_HEADER) continue;
    if (k.length > 100 || v.length > 1000) continue;
    if (out.length < 64) out.push([k, v]);
  }
  return out;
}

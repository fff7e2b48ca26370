import { GEMINI_CACHES_V7, GEMINI_CACHES_V8, GEMINI_CACHES_V9 } from "./gemini-caches.ts";

const V1 = [
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  // One row per proxied request (or keepalive ping): the accounting analytics sums over.
  `CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL UNIQUE,
    at INTEGER NOT NULL,
    upstream TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    stream INTEGER NOT NULL,
    keepalive INTEGER NOT NULL,
    status INTEGER NOT NULL,
    result TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    uncached_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cache_write_5m_tokens INTEGER NOT NULL,
    cache_write_1h_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    cost_without_cache_usd REAL NOT NULL,
    ttfb_ms INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    plan TEXT
  )`,
  `CREATE INDEX IF NOT EXISTS requests_at ON requests (at)`,
  // One row per chain position Stoker has seen at a breakpoint-able place: what it believes the provider holds.
  `CREATE TABLE IF NOT EXISTS prefixes (
    hash TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    upstream TEXT NOT NULL,
    model TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    seen INTEGER NOT NULL,
    hits INTEGER NOT NULL,
    misses INTEGER NOT NULL,
    writes INTEGER NOT NULL,
    last_write INTEGER,
    last_refresh INTEGER,
    cached_until INTEGER,
    ttl TEXT,
    gap_count INTEGER NOT NULL,
    gap_5m INTEGER NOT NULL,
    gap_1h INTEGER NOT NULL
  )`,
  `CREATE INDEX IF NOT EXISTS prefixes_last_seen ON prefixes (last_seen)`,
  `CREATE INDEX IF NOT EXISTS prefixes_family ON prefixes (family)`,
  // Gaps between reuses of a family's prefixes, newest kept: the keepalive policy learns from them.
  `CREATE TABLE IF NOT EXISTS gaps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    family TEXT NOT NULL,
    at INTEGER NOT NULL,
    gap_ms INTEGER NOT NULL
  )`,
  `CREATE INDEX IF NOT EXISTS gaps_family ON gaps (family, at)`,
  // The last few chain summaries per lineage (upstream + model): what a miss is diffed against.
  `CREATE TABLE IF NOT EXISTS recent_chains (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    lineage TEXT NOT NULL,
    at INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    summary TEXT NOT NULL
  )`,
  `CREATE INDEX IF NOT EXISTS recent_chains_lineage ON recent_chains (lineage, at)`,
  // Requests that missed where a near-identical earlier one would have hit: where they diverged and what it cost.
  `CREATE TABLE IF NOT EXISTS busters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    upstream TEXT NOT NULL,
    model TEXT NOT NULL,
    kind TEXT NOT NULL,
    segment INTEGER NOT NULL,
    message INTEGER,
    volatile INTEGER NOT NULL,
    tokens_lost INTEGER NOT NULL,
    cost_usd REAL NOT NULL
  )`,
  `CREATE INDEX IF NOT EXISTS busters_at ON busters (at)`,
];

// v2: keepalive bodies (sealed) and per-day keepalive spend.
const V2 = [
  // One body per conversation: the request that reads its deepest live entry, AES-GCM sealed (src/core/crypto.ts).
  `CREATE TABLE IF NOT EXISTS keepalive (
    conversation TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    family TEXT NOT NULL,
    upstream TEXT NOT NULL,
    model TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    iv BLOB,
    sealed BLOB,
    ttl TEXT NOT NULL,
    last_use INTEGER NOT NULL,
    cached_until INTEGER NOT NULL,
    pings INTEGER NOT NULL,
    claimed_for INTEGER,
    state TEXT NOT NULL,
    note TEXT
  )`,
  `CREATE INDEX IF NOT EXISTS keepalive_due ON keepalive (state, cached_until)`,
  `CREATE TABLE IF NOT EXISTS spend (day TEXT PRIMARY KEY, pings INTEGER NOT NULL, usd REAL NOT NULL)`,
  // What the keepalive policy learns from (src/decide/gaps.ts): each conversation's rhythm and each
  // family's survival table (how many idle conversations came back in each 5-minute window).
  `CREATE TABLE IF NOT EXISTS conversations (
    conversation TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    turns INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    own BLOB
  )`,
  `CREATE INDEX IF NOT EXISTS conversations_last ON conversations (last_at)`,
  `CREATE TABLE IF NOT EXISTS family_gaps (family TEXT PRIMARY KEY, at INTEGER NOT NULL, survival BLOB NOT NULL)`,
];

// v3: what analytics reports beyond the request rows: rewrites a keepalive saved, and buster excerpts.
const V3 = [
  // A real request that read an entry which, without the pings since its last use, would have lapsed.
  `CREATE TABLE IF NOT EXISTS rescues (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    request_id TEXT NOT NULL UNIQUE,
    upstream TEXT NOT NULL,
    model TEXT NOT NULL,
    hash TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    pings INTEGER NOT NULL,
    saved_usd REAL NOT NULL
  )`,
  `CREATE INDEX IF NOT EXISTS rescues_at ON rescues (at)`,
  `CREATE INDEX IF NOT EXISTS keepalive_hash ON keepalive (hash)`,
  // A redacted excerpt of the volatile line that broke the prefix, sealed like keepalive bodies.
  `ALTER TABLE busters ADD COLUMN excerpt_iv BLOB`,
  `ALTER TABLE busters ADD COLUMN excerpt BLOB`,
];

// v4: what planning reads besides the prefixes: each family's request rate and each model's token calibration.
const V4 = [
  // Requests per minute of a family, decayed (plan-inputs.ts): sharding of OpenAI cache keys reads it.
  `CREATE TABLE IF NOT EXISTS family_rates (family TEXT PRIMARY KEY, rate REAL NOT NULL, at INTEGER NOT NULL)`,
  // Reported over estimated prompt tokens per model (prefix/tokens.ts `calibrate`).
  `CREATE TABLE IF NOT EXISTS calibration (
    model TEXT PRIMARY KEY,
    ratio REAL NOT NULL,
    weight REAL NOT NULL,
    at INTEGER NOT NULL
  )`,
];

// v5: Anthropic cache diagnostics (provider-diagnostics.ts): the last answer's message id per conversation
// and per lineage, and the provider's cache-miss reason on the request and beside Stoker's buster finding.
const V5 = [
  `CREATE TABLE IF NOT EXISTS last_messages (key TEXT PRIMARY KEY, message_id TEXT NOT NULL, at INTEGER NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS last_messages_at ON last_messages (at)`,
  `ALTER TABLE requests ADD COLUMN miss_reason TEXT`,
  `ALTER TABLE requests ADD COLUMN missed_tokens INTEGER`,
  `ALTER TABLE busters ADD COLUMN provider_reason TEXT`,
  `ALTER TABLE busters ADD COLUMN provider_missed_tokens INTEGER`,
];

// v6: survival tables count an idle window when it closes, not when it opens (decide/gaps.ts): tables
// counted the old way would read as fewer returns, so they start afresh.
// A conversation keeps its latest request's last two positions, to learn whether a return sends them again.
const V6 = [`DELETE FROM family_gaps`, `ALTER TABLE conversations ADD COLUMN ends TEXT`];

// v10: a conversation keeps how its latest answer ended (a tool call or a reply), whose own survival tables
// (`{family}~tool`, `{family}~reply`) keepalive reads.
const CONVERSATION_ANSWER_V10 = [`ALTER TABLE conversations ADD COLUMN answer TEXT`];

// v11: a conversation's return is counted in its family's tables when its window closes (conversation-state.ts
// `Note`): until then it waits here, at most one window.
const PENDING_RETURNS_V11 = [
  `CREATE TABLE IF NOT EXISTS pending_returns (due INTEGER NOT NULL, tbl TEXT NOT NULL, turns INTEGER NOT NULL, win INTEGER NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS pending_returns_due ON pending_returns (due)`,
];

/**
 * v12: a keepalive candidate's tokens that a lapse would lose (beyond an entry that outlives it, such as a head
 * written for the hour): what a ping is worth and what a rescue saved. Null on older rows: all of them.
 */
const KEEPALIVE_EXPOSED_V12 = ["ALTER TABLE keepalive ADD COLUMN exposed INTEGER"];

/** v13: how many of a prefix's writes were for the hour (their premium is four times a 5m write's). */
const PREFIX_WRITES_1H_V13 = ["ALTER TABLE prefixes ADD COLUMN writes_1h INTEGER NOT NULL DEFAULT 0"];

/**
 * v14: a family's conversations still inside a window, found by family and time: the heads table counts the
 * heads still open at risk for the share of the window they have been open (conversation-state.ts `#headsAt`).
 */
const CONVERSATIONS_FAMILY_V14 = [
  "CREATE INDEX IF NOT EXISTS conversations_family_last ON conversations (family, last_at)",
];

/** Each entry upgrades the layout by one version; the schema version is their count. */
const MIGRATIONS: readonly (readonly string[])[] = [
  V1,
  V2,
  V3,
  V4,
  V5,
  V6,
  GEMINI_CACHES_V7,
  GEMINI_CACHES_V8,
  GEMINI_CACHES_V9,
  CONVERSATION_ANSWER_V10,
  PENDING_RETURNS_V11,
  KEEPALIVE_EXPOSED_V12,
  PREFIX_WRITES_1H_V13,
  CONVERSATIONS_FAMILY_V14,
];
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Creates or upgrades the tables; idempotent, run in the constructor under blockConcurrencyWhile. */
export function migrate(sql: SqlStorage): void {
  sql.exec(V1[0] as string);
  const row = sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'").toArray()[0];
  const current = row ? Number(row.value) : 0;
  if (current >= SCHEMA_VERSION) return;
  for (const step of MIGRATIONS.slice(current)) for (const statement of step) sql.exec(statement);
  sql.exec(
    "INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    String(SCHEMA_VERSION),
  );
}

const FAMILIES = 2_000;

/** Bounds that keep one tenant's storage from growing without limit. */
export const LIMITS = {
  prefixes: 20_000,
  requestsRetentionMs: 35 * 24 * 3600_000,
  /** Newest accounting rows kept, whatever their age (about 150 MB): a busy tenant keeps fewer than 35 days. */
  requests: 500_000,
  /** Lineages (upstream + model) whose recent chains are kept, most recently used first. */
  lineages: 256,
  gapsPerFamily: 200,
  chainsPerLineage: 8,
  conversations: 20_000,
  families: FAMILIES,
  /** Survival tables: a family's own and its `~tool` and `~reply` tables, and `~tenant` and `~heads`. */
  familyTables: 3 * FAMILIES + 2,
  busters: 1_000,
  calibratedModels: 200,
} as const;

/** Tables whose rows a tenant's storage report counts. */
export const COUNTED_TABLES = [
  "requests",
  "prefixes",
  "gaps",
  "recent_chains",
  "busters",
  "keepalive",
  "conversations",
  "family_gaps",
  "rescues",
  "family_rates",
  "calibration",
  "last_messages",
  "gemini_caches",
  "pending_returns",
] as const;

import { DurableObject } from "cloudflare:workers";
import { getConfig } from "../config.ts";
import { registry } from "../keepalive/registry.ts";
import { type KeepaliveSettings, PING_LEAD_MS, resolveKeepalive } from "../keepalive/settings.ts";
import { insertRequest, sumRequests } from "./accounting.ts";
import { diagnose, listBusters } from "./busters-store.ts";
import { Conversations } from "./conversations.ts";
import { type Sealed, seal } from "./crypto.ts";
import { emptyReport, runKeepalive, type SealedRequest } from "./keepalive-run.ts";
import { KeepaliveStore } from "./keepalive-store.ts";
import { lookupPrefixes, updatePrefixes } from "./prefixes.ts";
import { LIMITS, migrate } from "./schema.ts";
import type {
  BusterFinding,
  KeepaliveReport,
  LookupResult,
  RecordRequest,
  RpcResult,
  Totals,
} from "./types.ts";
import { TrackerInputError, validateLookup, validateRecord } from "./validate.ts";

/** Housekeeping (row caps, retention) runs once per this many records, not on every one. */
const HOUSEKEEPING_EVERY = 200;
/** Entries one keepalive sweep handles at most (each may be one subrequest). */
const SWEEP_LIMIT = 50;

/**
 * One per tenant (`idFromName(tenantId)`): what Stoker believes each provider holds for the tenant, the
 * per-request accounting, cache-buster findings, and the keepalive candidates with their sealed requests.
 * Layout and retention: storage.md beside this file.
 */
export class Tracker extends DurableObject<Env> {
  readonly #conversations: Conversations;
  readonly #keepalive: KeepaliveStore;
  #recordsSinceHousekeeping = 0;
  #reportedWake: number | null | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => migrate(ctx.storage.sql));
    this.#conversations = new Conversations(ctx.storage.sql);
    this.#keepalive = new KeepaliveStore(ctx.storage.sql);
  }

  /** What is known of each chain hash (unknown hashes are absent). */
  async lookup(hashes: string[], nowMs: number): Promise<RpcResult<LookupResult>> {
    const invalid = rejectInvalid(() => validateLookup(hashes));
    if (invalid) return invalid;
    return { ok: true, value: lookupPrefixes(this.ctx.storage.sql, hashes, nowMs) };
  }

  /** Accounts one request, updates what is believed cached, keeps its keepalive capture; idempotent per id. */
  async record(input: RecordRequest): Promise<RpcResult<{ counted: boolean }>> {
    const invalid = rejectInvalid(() => validateRecord(input));
    if (invalid) return invalid;
    const r = input;
    const config = getConfig(this.env);
    this.#rememberTenant(r.tenantId);
    const wanted = r.capture && config.keepalive.enabled && this.#settings().enabled;
    // A conversation's first request in a family no conversation has come back to is never pinged (second
    // sight), so sealing and storing its request would be wasted work.
    const capture =
      wanted && r.capture && this.#conversations.mayReturn(r.capture.conversation, r.family)
        ? r.capture
        : null;
    let sealed: Sealed | null = null;
    if (capture) {
      const plain: SealedRequest = {
        path: capture.path,
        headers: capture.headers,
        body: capture.body,
        loc: capture.loc,
      };
      sealed = await seal(config.secret, r.tenantId, capture.hash, JSON.stringify(plain));
    }
    const sql = this.ctx.storage.sql;
    let counted = false;
    this.ctx.storage.transactionSync(() => {
      if (!insertRequest(sql, r)) return; // a retried record: already counted
      counted = true;
      const beliefs =
        r.family !== null && r.positions.length > 0
          ? updatePrefixes(sql, r, config.keepalive.anthropicTtlMs)
          : new Map();
      if (r.conversation !== null && r.family !== null && r.result === "ok") {
        this.#conversations.sweep(r.at);
        this.#conversations.noteRequest(r.conversation, r.family, r.at);
      }
      if (r.chain) diagnose(sql, r);
      const b = capture ? beliefs.get(capture.hash) : undefined;
      if (capture && sealed && b && (b.read || b.written) && b.cachedUntil !== null && r.family !== null) {
        this.#keepalive.upsert({
          conversation: capture.conversation,
          hash: capture.hash,
          family: r.family,
          upstream: r.upstream,
          model: r.model,
          tokens: b.tokens,
          sealed,
          ttl: capture.ttl,
          at: r.at,
          cachedUntil: b.cachedUntil,
        });
      }
    });
    if (++this.#recordsSinceHousekeeping >= HOUSEKEEPING_EVERY) {
      this.#recordsSinceHousekeeping = 0;
      this.#housekeeping(r.at);
    }
    if (counted && capture) await this.#reschedule();
    return { ok: true, value: { counted } };
  }

  /** Sums of the accounting rows in [fromMs, toMs). */
  async totals(fromMs = 0, toMs = Number.MAX_SAFE_INTEGER): Promise<Totals> {
    return sumRequests(this.ctx.storage.sql, fromMs, toMs);
  }

  /** The newest cache-buster findings. */
  async busters(limit = 100): Promise<BusterFinding[]> {
    return listBusters(this.ctx.storage.sql, limit);
  }

  /** Stores the tenant's keepalive settings (validated field by field over the defaults). */
  async configureKeepalive(settings: Partial<KeepaliveSettings>): Promise<KeepaliveSettings> {
    const resolved = resolveKeepalive(settings, this.#settings());
    this.ctx.storage.sql.exec(
      "INSERT INTO meta (key, value) VALUES ('keepalive', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      JSON.stringify(resolved),
    );
    return resolved;
  }

  /**
   * One keepalive sweep at `nowMs`: what the cron and the alarm both call (tests call it directly with a
   * simulated time). Entries claimed by another sweep are skipped, so two sweeps never ping one deadline.
   */
  async runKeepalive(nowMs: number): Promise<KeepaliveReport> {
    const tenantId = this.#tenant();
    if (!tenantId) return emptyReport();
    this.#conversations.sweep(nowMs);
    const report = await runKeepalive(
      {
        sql: this.ctx.storage.sql,
        tenantId,
        config: getConfig(this.env),
        settings: this.#settings(),
        store: this.#keepalive,
        conversations: this.#conversations,
      },
      nowMs,
      SWEEP_LIMIT,
    );
    await this.#reschedule();
    return report;
  }

  /** The alarm is set for the next keepalive deadline; it sweeps as of that deadline. */
  override async alarm(): Promise<void> {
    const planned = this.ctx.storage.sql
      .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'alarm_at'")
      .toArray()[0];
    await this.runKeepalive(Math.max(Date.now(), planned ? Number(planned.value) : 0));
  }

  async #reschedule(): Promise<void> {
    const next = this.#keepalive.nextDeadline();
    const wake = next === null ? null : next - PING_LEAD_MS;
    if (wake === null) await this.ctx.storage.deleteAlarm();
    else {
      await this.ctx.storage.setAlarm(wake);
      this.ctx.storage.sql.exec(
        "INSERT INTO meta (key, value) VALUES ('alarm_at', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        String(wake),
      );
    }
    const tenant = this.#tenant();
    if (tenant && wake !== this.#reportedWake) {
      this.#reportedWake = wake;
      try {
        await registry(this.env).set(tenant, wake);
      } catch {
        // The registry only lets the cron find this tenant; the alarm still fires without it.
      }
    }
  }

  #settings(): KeepaliveSettings {
    const row = this.ctx.storage.sql
      .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'keepalive'")
      .toArray()[0];
    return resolveKeepalive(row ? JSON.parse(row.value) : null);
  }

  #tenant(): string | null {
    return (
      this.ctx.storage.sql
        .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'tenant_id'")
        .toArray()[0]?.value ?? null
    );
  }

  #rememberTenant(tenantId: string): void {
    this.ctx.storage.sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('tenant_id', ?)", tenantId);
  }

  #housekeeping(nowMs: number): void {
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM requests WHERE at < ?", nowMs - LIMITS.requestsRetentionMs);
    const { n } = sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM prefixes").one();
    if (n > LIMITS.prefixes) {
      sql.exec(
        "DELETE FROM prefixes WHERE hash IN (SELECT hash FROM prefixes ORDER BY last_seen ASC LIMIT ?)",
        n - LIMITS.prefixes,
      );
    }
    sql.exec(
      "DELETE FROM busters WHERE id NOT IN (SELECT id FROM busters ORDER BY at DESC LIMIT ?)",
      LIMITS.busters,
    );
    sql.exec(
      `DELETE FROM gaps WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY family ORDER BY at DESC) AS k
        FROM gaps) WHERE k > ?)`,
      LIMITS.gapsPerFamily,
    );
    this.#conversations.trim(LIMITS.conversations, LIMITS.families);
    this.#keepalive.expire(nowMs);
    sql.exec("DELETE FROM keepalive WHERE state <> 'live' AND last_use < ?", nowMs - 24 * 3600_000);
  }
}

function rejectInvalid(check: () => unknown): { ok: false; error: string } | null {
  try {
    check();
    return null;
  } catch (err) {
    if (err instanceof TrackerInputError) return { ok: false, error: err.message };
    throw err;
  }
}

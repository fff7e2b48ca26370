import { DurableObject } from "cloudflare:workers";
import { type AgreementRow, agreement } from "../analytics/agreement.ts";
import type { Figures } from "../analytics/figures.ts";
import {
  type BusterGroupRow,
  busterExcerpt,
  busterGroups,
  type PrefixRow,
  type Summary,
  summary,
  timeseries,
  topPrefixes,
} from "../analytics/queries.ts";
import { clockOffset, now } from "../core/clock.ts";
import { getConfig } from "../core/config.ts";
import { open, type Sealed, seal } from "../core/crypto.ts";
import type { RpcResult } from "../core/rpc.ts";
import { type KeepaliveSettings, pingLeadMs, resolveKeepalive } from "../decide/keepalive-settings.ts";
import { registry } from "../keepalive/registry.ts";
import type { GeminiCacheRef } from "../plan/gemini.ts";
import { directory } from "../tenants/directory.ts";
import { insertRequest, sumRequests } from "./accounting.ts";
import { diagnose, listBusters, RecentChains } from "./busters-store.ts";
import { Conversations } from "./conversation-state.ts";
import { type AsideRows, SqlConversationStore } from "./conversations.ts";
import {
  claim,
  created,
  explicitSpendSince,
  type GeminiCacheState,
  latestExpiry,
  liveCaches,
  type PrefixHistory,
  prefixHistory,
  release,
  used,
  validCacheRef,
  validHeaders,
  validModel,
  validName,
} from "./gemini-caches.ts";
import { type GeminiReviewReport, nextGeminiReview, reviewGeminiCaches } from "./gemini-review.ts";
import { sqlKeepaliveDeps } from "./keepalive-deps.ts";
import { emptyReport, encodeSealedRequest, type RunDeps, runKeepalive } from "./keepalive-run.ts";
import { KeepaliveStore } from "./keepalive-store.ts";
import { planFacts, SqlPlanInputStore } from "./plan-inputs.ts";
import { lookupPrefixes, SqlPrefixStore } from "./prefixes.ts";
import { noteDiagnostics, previousMessageId, trimLastMessages } from "./provider-diagnostics.ts";
import { captureWorthKeeping, type DecisionState, recordDecisionState } from "./record-state.ts";
import { noteRescue } from "./rescues.ts";
import { COUNTED_TABLES, LIMITS, migrate } from "./schema.ts";
import type {
  BusterFinding,
  KeepaliveCapture,
  KeepaliveReport,
  LookupAnswer,
  LookupResult,
  LookupScope,
  PlanFacts,
  RecordAnswer,
  RecordBatchAnswer,
  RecordRequest,
  TenantStorage,
  Totals,
  WholeCapture,
} from "./types.ts";
import {
  MAX_RECORD_BATCH,
  TrackerInputError,
  validateHeldCaptures,
  validateLookup,
  validateRecord,
  validateScope,
} from "./validate.ts";

/** Housekeeping (row caps, retention) runs once per this many records, not on every one. */
const HOUSEKEEPING_EVERY = 200;

/**
 * A record this much older than the newest the tracker has taken (one the record queue delivered after an
 * outage, record-delivery.ts) is accounted but not learned from: what is believed cached, the gaps and the
 * conversations have moved on since, and would be set back.
 */
const LATE_RECORD_MS = 5 * 60_000;
/** Entries one keepalive sweep handles at most (each may be one subrequest). */
const SWEEP_LIMIT = 50;
/** A registry deadline this close (the cron looks 60 s ahead every minute) is kept exact after records. */
const REGISTRY_SLACK_MS = 150_000;

/**
 * One per tenant (`idFromName(tenantId)`): what Stoker believes each provider holds for the tenant, the
 * per-request accounting, cache-buster findings, and the keepalive candidates with their sealed requests.
 * Layout and retention: storage.md beside this file.
 */
export class Tracker extends DurableObject<Env> {
  readonly #conversations: Conversations;
  readonly #conversationStore: SqlConversationStore;
  readonly #keepalive: KeepaliveStore;
  readonly #state: DecisionState;
  readonly #planInputs: SqlPlanInputStore;
  readonly #chains = new RecentChains();
  #recordsSinceHousekeeping = 0;
  /** The newest record's time (read from the accounting rows once per instance). */
  #newestAt: number | undefined;
  #reportedWake: number | null | undefined;
  #alarmAt: number | null | undefined;
  /** The latest expiry of the tenant's Gemini caches (undefined: not read yet); none is live after it. */
  #geminiUntil: number | undefined;
  #keepaliveSettings: KeepaliveSettings | undefined;
  #tenantRemembered = false;
  #tenantId: string | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => migrate(ctx.storage.sql));
    this.#conversationStore = new SqlConversationStore(ctx.storage.sql);
    this.#conversations = new Conversations(this.#conversationStore, getConfig(env).keepalive.anthropicTtlMs);
    this.#keepalive = new KeepaliveStore(ctx.storage.sql);
    this.#planInputs = new SqlPlanInputStore(ctx.storage.sql);
    this.#state = {
      prefixes: new SqlPrefixStore(ctx.storage.sql),
      conversations: this.#conversations,
      keepalive: this.#keepalive,
      planInputs: this.#planInputs,
    };
  }

  /**
   * `npm run chaos` only (STOKER_LOCAL_DEV): the object resets itself, as an eviction or a deploy would, so the
   * chaos run can show that no accounting is lost. Elsewhere it does nothing.
   */
  chaosAbort(): boolean {
    if (!getConfig(this.env).loopbackOnly) return false;
    this.ctx.abort("chaos: reset on request (local development)");
    return true;
  }

  /**
   * Local development only (`npm run chaos`): the object takes no call for `ms` (at most 25 s), as an
   * overloaded or unreachable one would.
   */
  async chaosStall(ms: number): Promise<boolean> {
    if (!getConfig(this.env).loopbackOnly) return false;
    const wait = Math.min(Math.max(Number(ms) || 0, 0), 25_000);
    await this.ctx.blockConcurrencyWhile(() => new Promise<void>((resolve) => setTimeout(resolve, wait)));
    return true;
  }

  /**
   * What is known of each chain hash (unknown hashes are absent) and, with a `scope`, the family's request
   * rate and the model's calibration: everything a plan reads from the tracker, in one call.
   */
  async lookup(hashes: string[], nowMs: number, scope?: LookupScope): Promise<RpcResult<LookupAnswer>> {
    let s: LookupScope | undefined;
    const invalid = rejectInvalid(() => {
      validateLookup(hashes);
      s = validateScope(scope);
    });
    if (invalid) return invalid;
    await this.#injectedDelay();
    const sql = this.ctx.storage.sql;
    const states = lookupPrefixes(sql, hashes, nowMs);
    if (!s) return { ok: true, value: { states } };
    const previous = s.conversation !== undefined ? previousMessageId(sql, s) : undefined;
    const value: LookupAnswer = {
      states,
      ...planFacts(this.#planInputs, s, nowMs),
      ...this.#conversations.outlooks(s.conversation ?? "", s.family, nowMs),
    };
    if (previous !== undefined) value.previousMessageId = previous;
    return { ok: true, value };
  }

  /**
   * Gemini explicit caches (edge/gemini-explicit.ts): the live caches ending at `hashes` for `model` (at
   * least `marginMs` left), and how often each hash came back.
   */
  async geminiCaches(
    hashes: string[],
    model: string,
    nowMs: number,
    marginMs: number,
  ): Promise<RpcResult<{ caches: GeminiCacheState[]; history: PrefixHistory[]; budgetLeftUsd: number }>> {
    const invalid = rejectInvalid(() => validateLookup(hashes));
    if (invalid) return invalid;
    if (!validModel(model) || !Number.isFinite(nowMs) || !Number.isFinite(marginMs))
      return { ok: false, error: "model" };
    const sql = this.ctx.storage.sql;
    // Explicit caches spend from the tenant's daily keepalive budget, with its pings (off: nothing to spend).
    const settings = this.#settings();
    const dayStart = Date.parse(`${new Date(nowMs).toISOString().slice(0, 10)}T00:00:00Z`);
    const budgetLeftUsd =
      settings.enabled && getConfig(this.env).keepalive.enabled
        ? settings.maxUsdPerDay -
          this.#keepalive.spentOn(new Date(nowMs).toISOString().slice(0, 10)) -
          explicitSpendSince(sql, dayStart)
        : 0;
    return {
      ok: true,
      value: {
        caches: liveCaches(sql, hashes, model, nowMs, marginMs),
        history: prefixHistory(sql, hashes),
        budgetLeftUsd,
      },
    };
  }

  /** Takes the right to create the cache ending at `hash` (one creation per prefix at a time). */
  async geminiClaim(hash: string, model: string, nowMs: number): Promise<RpcResult<boolean>> {
    const invalid = rejectInvalid(() => validateLookup([hash]));
    if (invalid) return invalid;
    if (!validModel(model)) return { ok: false, error: "model" };
    return { ok: true, value: claim(this.ctx.storage.sql, hash, model, nowMs) };
  }

  /**
   * Stores a cache the provider created (or, with `ref` null, releases the claim on `hash`), with the
   * forwarded headers of the request that created it (no credentials), which its deletion is sent with.
   */
  async geminiCreated(
    hash: string,
    ref: GeminiCacheRef | null,
    nowMs: number,
    expireAt: number,
    headers: [string, string][] = [],
  ): Promise<RpcResult<null>> {
    const invalid = rejectInvalid(() => validateLookup([hash]));
    if (invalid) return invalid;
    if (ref === null) {
      release(this.ctx.storage.sql, hash);
      return { ok: true, value: null };
    }
    if (!validCacheRef(ref) || ref.hash !== hash || !(expireAt > nowMs)) return { ok: false, error: "ref" };
    if (!validHeaders(headers)) return { ok: false, error: "headers" };
    created(this.ctx.storage.sql, ref, nowMs, expireAt, headers);
    this.#geminiExpiring(expireAt);
    await this.#reschedule();
    return { ok: true, value: null };
  }

  /** Counts a request the cache served; `expireAt` when Stoker extended its TTL. */
  async geminiUsed(name: string, nowMs: number, expireAt: number | null): Promise<RpcResult<null>> {
    if (!validName(name)) return { ok: false, error: "name" };
    used(this.ctx.storage.sql, name, nowMs, expireAt);
    if (expireAt !== null) this.#geminiExpiring(expireAt);
    await this.#reschedule();
    return { ok: true, value: null };
  }

  /**
   * Deletes the tenant's Gemini explicit caches whose returns stopped paying their storage, as of `nowMs`
   * (gemini-review.ts): what the alarm and the cron run with each keepalive sweep; tests call it directly.
   */
  async reviewGeminiCaches(nowMs: number): Promise<GeminiReviewReport> {
    const tenantId = this.#tenant();
    const config = getConfig(this.env);
    const sql = this.ctx.storage.sql;
    const due = nextGeminiReview(sql, config, nowMs);
    if (!tenantId || due === null || due > nowMs) return { reviewed: 0, deleted: 0, savedUsd: 0 };
    // The key a request of this tenant is sent with (proxy.ts credentialFor): its own, else the deploy's.
    const deploy = config.upstreams.gemini.apiKey ?? (config.simulator ? "" : null);
    let key: string | null = deploy;
    if (!config.tenants.some((t) => t.id === tenantId)) {
      try {
        const state = await directory(this.env).keepaliveState(tenantId);
        key =
          !state.active || state.brokenProviderKeys.includes("gemini")
            ? null
            : (state.providerKeys.gemini ?? deploy);
      } catch {
        key = null; // the directory is unreachable: the tenant's own key is unknown, the deploy's not sent
      }
    }
    return reviewGeminiCaches(sql, config, key, nowMs);
  }

  /**
   * Accounts one request, updates what is believed cached, keeps its keepalive capture; idempotent per id.
   * Answers with what is now known of the request's positions (as `lookup` would answer for them), so the
   * edge can plan the conversation's next turn from that without asking again.
   */
  async record(input: RecordRequest): Promise<RpcResult<RecordAnswer>> {
    let r: RecordRequest;
    try {
      r = validateRecord(input);
    } catch (err) {
      if (err instanceof TrackerInputError) return { ok: false, error: err.message };
      throw err;
    }
    // A deleted tenant's tracker keeps nothing, whatever arrives after the deletion (a stream that outlived it).
    if (this.#deleted()) return { ok: false, error: "tenant deleted" };
    // One object per tenant: a record naming another tenant is refused (defence in depth; no route sends one).
    const owner = this.#tenant();
    if (owner !== null && owner !== r.tenantId)
      return { ok: false, error: "tenantId: not this tracker's tenant" };
    const config = getConfig(this.env);
    this.#rememberTenant(r.tenantId);
    let aside: AsideRows;
    // The conversation's row read here is held again for the update below, unless written meanwhile.
    this.#conversationStore.hold();
    let capture: KeepaliveCapture | null;
    try {
      capture = captureWorthKeeping(
        this.#conversations,
        r,
        config.keepalive.enabled && this.#settings().enabled,
      );
    } finally {
      aside = this.#conversationStore.setAside();
    }
    // A capture without its body (the edge holds it back) makes a candidate that `keepCaptures` completes.
    const sealed =
      capture?.body != null ? await this.#sealCapture(r.tenantId, { ...capture, body: capture.body }) : null;
    const excerpts = await this.#sealExcerpts(r);
    const sql = this.ctx.storage.sql;
    const ttlMs = (ttl: string) => (ttl === "1h" ? 3600_000 : config.keepalive.anthropicTtlMs);
    let counted = false;
    const tracked = r.family !== null && r.positions.length > 0;
    const states: LookupResult = {};
    let facts: PlanFacts | null = null;
    this.#newestAt ??= sql.exec<{ at: number | null }>("SELECT MAX(at) AS at FROM requests").one().at ?? 0;
    const late = r.at < this.#newestAt - LATE_RECORD_MS;
    const apply = () => {
      if (!insertRequest(sql, r)) return; // a retried record: already counted
      counted = true;
      noteRescue(sql, r, ttlMs);
      noteDiagnostics(sql, r);
      if (late) return;
      facts = recordDecisionState(
        this.#state,
        r,
        config.keepalive.anthropicTtlMs,
        capture ? { capture, sealed } : null,
        states,
      );
      // Only answered requests keep a chain: a rejected one (any model name a client made up) would add lineages.
      if (r.chain && r.result === "ok" && r.status >= 200 && r.status < 300)
        diagnose(sql, r, excerpts, this.#chains);
    };
    // The rows the update reads and writes are held in memory for the answer's outlooks, until the answer
    // is built (no await meanwhile: nothing else writes them).
    this.#conversationStore.hold(aside);
    let answer: RpcResult<RecordAnswer>;
    try {
      try {
        this.ctx.storage.transactionSync(apply);
      } catch (err) {
        // Rolled back with the rest: what is held in memory is read again.
        this.#conversationStore.forget();
        this.#planInputs.forget();
        this.#chains.forget();
        throw err;
      }
      if (counted) this.#newestAt = Math.max(this.#newestAt, r.at);
      if (++this.#recordsSinceHousekeeping >= HOUSEKEEPING_EVERY) {
        this.#recordsSinceHousekeeping = 0;
        this.#housekeeping(r.at);
      }
      answer = tracked ? this.#recorded(r, counted, facts, states) : { ok: true, value: { counted } };
    } finally {
      this.#conversationStore.release();
    }
    if (counted && capture) await this.#reschedule(true);
    return answer;
  }

  /**
   * What the positions of a tracked record now hold, as a lookup at the request's start would answer: from
   * the values the update wrote, or read back when it did not write them all (a retried record).
   */
  #recorded(
    r: RecordRequest,
    counted: boolean,
    facts: PlanFacts | null,
    states: LookupResult,
  ): RpcResult<RecordAnswer> {
    const complete = r.positions.every((p) => p.hash in states);
    return {
      ok: true,
      value: {
        counted,
        ...(r.messageId ? { previousMessageId: r.messageId } : {}),
        ...(facts ?? planFacts(this.#planInputs, { family: r.family as string, model: r.model }, r.at)),
        ...(r.conversation !== null
          ? this.#conversations.outlooks(r.conversation, r.family as string, r.at)
          : {}),
        states: complete
          ? states
          : lookupPrefixes(
              this.ctx.storage.sql,
              r.positions.map((p) => p.hash),
              r.at,
            ),
      },
    };
  }

  /**
   * Several records in one call (the edge coalesces them per isolate, client.ts), each handled as
   * `record` handles it, in order. A record whose update failed is answered `retry` and left for the edge to
   * send again; records are idempotent per request id, so a retried one never counts twice.
   */
  async recordMany(inputs: RecordRequest[]): Promise<RecordBatchAnswer> {
    if (!Array.isArray(inputs) || inputs.length > MAX_RECORD_BATCH)
      return [{ ok: false, error: `records: an array of at most ${MAX_RECORD_BATCH}` }];
    await this.#injectedDelay();
    const out: RecordBatchAnswer = [];
    for (const input of inputs) {
      try {
        out.push(await this.record(input));
      } catch (err) {
        out.push({ ok: false, error: err instanceof Error ? err.name : "record failed", retry: true });
      }
    }
    return out;
  }

  /**
   * The requests the edge held back from their records (`src/edge/capture-hold.ts`), for keepalive pings:
   * each is sealed and stored with its conversation's candidate if that still points at its entry (a later
   * turn's record moved it on, or it ended: the capture is dropped). Answers how many were kept.
   */
  async keepCaptures(tenantId: string, input: WholeCapture[]): Promise<RpcResult<{ kept: number }>> {
    let captures: WholeCapture[];
    try {
      captures = validateHeldCaptures(tenantId, input);
    } catch (err) {
      if (err instanceof TrackerInputError) return { ok: false, error: err.message };
      throw err;
    }
    if (this.#deleted()) return { ok: false, error: "tenant deleted" };
    if (this.#tenant() !== tenantId) return { ok: false, error: "tenantId: not this tracker's tenant" };
    const config = getConfig(this.env);
    if (!config.keepalive.enabled || !this.#settings().enabled) return { ok: true, value: { kept: 0 } };
    let kept = 0;
    for (const c of captures) {
      // Sealing costs as much as the body is long: only for a candidate that still waits for it.
      if (!this.#keepalive.awaits(c.conversation, c.hash)) continue;
      const sealed = await this.#sealCapture(tenantId, c);
      if (this.#keepalive.attach(c.conversation, c.hash, sealed)) kept++;
    }
    return { ok: true, value: { kept } };
  }

  async #sealCapture(tenantId: string, c: WholeCapture): Promise<Sealed> {
    const plain = { path: c.path, headers: c.headers, body: c.body, loc: c.loc };
    return seal(getConfig(this.env).secret, tenantId, c.hash, encodeSealedRequest(plain), "keepalive");
  }

  /** TRACKER_DELAY_MS (benchmarks with the simulator only): answer as late as a tracker far away would. */
  async #injectedDelay(): Promise<void> {
    const d = getConfig(this.env).trackerDelayMs;
    if (!d) return;
    const ms = d.min + Math.random() * (d.max - d.min);
    await new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** Sums of the accounting rows in [fromMs, toMs). */
  async totals(fromMs = 0, toMs = Number.MAX_SAFE_INTEGER): Promise<Totals> {
    return sumRequests(this.ctx.storage.sql, fromMs, toMs);
  }

  /** The newest cache-buster findings. */
  async busters(limit = 100): Promise<BusterFinding[]> {
    return listBusters(this.ctx.storage.sql, limit);
  }

  /** Analytics: totals over [from, to), per upstream and per model. */
  async summary(from: number, to: number): Promise<Summary> {
    return summary(this.ctx.storage.sql, from, to);
  }

  /** Analytics: the same figures per bucket. */
  async timeseries(from: number, to: number, bucketMs: number): Promise<({ start: number } & Figures)[]> {
    return timeseries(this.ctx.storage.sql, from, to, bucketMs);
  }

  /** Analytics: top entries (by tokens read), one page. */
  async prefixes(limit: number, offset: number): Promise<PrefixRow[]> {
    return topPrefixes(this.ctx.storage.sql, limit, offset);
  }

  /** Analytics: how often Stoker's buster findings and Anthropic's cache diagnostics agree. */
  async busterAgreement(): Promise<AgreementRow> {
    return agreement(this.ctx.storage.sql);
  }

  /** Analytics: cache-busters grouped by where prompts diverge, with the newest redacted excerpt. */
  async busterGroups(
    limit: number,
    offset: number,
  ): Promise<(Omit<BusterGroupRow, "excerpt_id"> & { excerpt: string | null; request_id: string | null })[]> {
    const sql = this.ctx.storage.sql;
    const tenant = this.#tenant();
    const config = getConfig(this.env);
    return Promise.all(
      busterGroups(sql, limit, offset).map(async ({ excerpt_id, ...group }) => {
        const sealed = excerpt_id === null ? null : busterExcerpt(sql, excerpt_id);
        let excerpt: string | null = null;
        if (sealed && tenant) {
          try {
            excerpt = await open(
              config.secret,
              tenant,
              `excerpt:${sealed.request_id}`,
              sealed,
              "excerpt",
              true,
            );
          } catch {
            excerpt = null; // sealed under another secret: shown without its excerpt
          }
        }
        return { ...group, excerpt, request_id: sealed?.request_id ?? null };
      }),
    );
  }

  /** Deletes everything this tenant's tracker holds: rows, alarm, and its place in the keepalive registry. */
  /** What this tenant stores: the database's bytes and the rows of each table (the admin API shows it). */
  async storage(): Promise<TenantStorage> {
    const sql = this.ctx.storage.sql;
    const rows: Record<string, number> = {};
    for (const t of COUNTED_TABLES)
      rows[t] = sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t}`).one().n;
    return {
      bytes: sql.databaseSize,
      rows,
      limits: { requests: LIMITS.requests, lineages: LIMITS.lineages },
    };
  }

  /** Applies every storage bound now (records do it every HOUSEKEEPING_EVERY; tests call it directly). */
  async housekeeping(nowMs: number): Promise<TenantStorage> {
    this.#housekeeping(nowMs);
    return this.storage();
  }

  async purge(): Promise<void> {
    const tenant = this.#tenant();
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    if (tenant) {
      try {
        await registry(this.env).set(tenant, null);
      } catch {
        // The registry entry only wakes a tracker that no longer has deadlines: harmless if it stays.
      }
    }
    this.#reportedWake = undefined;
    this.#alarmAt = undefined;
    this.#geminiUntil = undefined;
    this.#keepaliveSettings = undefined;
    this.#tenantRemembered = false;
    this.#tenantId = undefined;
    this.#conversationStore.forget();
    this.#planInputs.forget();
    this.#chains.forget();
    migrate(this.ctx.storage.sql);
    // The tombstone: this scope is never used again (a new creation of the id gets a new generation).
    this.ctx.storage.sql.exec("INSERT INTO meta (key, value) VALUES ('deleted_at', ?)", String(Date.now()));
    this.#isDeleted = true;
  }

  #isDeleted: boolean | undefined;

  #deleted(): boolean {
    this.#isDeleted ??=
      this.ctx.storage.sql.exec("SELECT 1 FROM meta WHERE key = 'deleted_at'").toArray().length > 0;
    return this.#isDeleted;
  }

  /** The tenant's keepalive settings (defaults where none were set). */
  async keepaliveSettings(): Promise<KeepaliveSettings> {
    return this.#settings();
  }

  /** Stores the tenant's keepalive settings (validated field by field over the defaults). */
  async configureKeepalive(settings: Partial<KeepaliveSettings>): Promise<KeepaliveSettings> {
    const resolved = resolveKeepalive(settings, this.#settings());
    this.ctx.storage.sql.exec(
      "INSERT INTO meta (key, value) VALUES ('keepalive', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      JSON.stringify(resolved),
    );
    this.#keepaliveSettings = resolved;
    return resolved;
  }

  /**
   * One keepalive sweep at `nowMs`: what the cron and the alarm both call (tests call it directly with a
   * simulated time). Entries claimed by another sweep are skipped, so two sweeps never ping one deadline.
   */
  async runKeepalive(nowMs: number): Promise<KeepaliveReport> {
    const tenantId = this.#tenant();
    if (!tenantId) return emptyReport();
    await this.reviewGeminiCaches(nowMs);
    let apiKeys: RunDeps["apiKeys"] = {};
    let refusedProviders: RunDeps["refusedProviders"] = [];
    let inactive = false;
    if (!getConfig(this.env).tenants.some((t) => t.id === tenantId)) {
      try {
        const state = await directory(this.env).keepaliveState(tenantId);
        apiKeys = state.providerKeys;
        // Revoked, rotated to no key, or deleted: this tenant's pings stop now, not when caches expire.
        refusedProviders = state.active ? state.brokenProviderKeys : ["anthropic", "openai", "bedrock"];
        inactive = !state.active;
      } catch {
        // Directory unreachable: the tenant's own keys are unknown, so no ping goes out with the deploy's.
        refusedProviders = ["anthropic", "openai", "bedrock"];
      }
    }
    const report = await runKeepalive(
      sqlKeepaliveDeps({
        sql: this.ctx.storage.sql,
        tenantId,
        config: getConfig(this.env),
        settings: this.#settings(),
        store: this.#keepalive,
        conversations: this.#conversations,
        apiKeys,
        refusedProviders,
        inactive,
      }),
      nowMs,
      SWEEP_LIMIT,
    );
    await this.#reschedule();
    return report;
  }

  /** The alarm is set for the next wake; it sweeps as of its planned time, or, left early by a record, sets the next. */
  override async alarm(): Promise<void> {
    this.#alarmAt = undefined; // it fired: no alarm is set until the sweep below sets the next one
    const planned = this.ctx.storage.sql
      .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'alarm_at'")
      .toArray()[0];
    const at = Math.max(now(), planned ? Number(planned.value) : 0);
    // An alarm a record left early (#reschedule) finds nothing due: it only sets the next one, so the
    // tenant's state moves as if it never fired (the economics replay sweeps at the deadlines alone).
    const wake = this.#nextWake(at);
    if (wake === null || wake > at) await this.#reschedule();
    else await this.runKeepalive(at);
  }

  /** When the tracker must next wake: the next ping (its deadline less the lead) or Gemini review, or null. */
  #nextWake(nowMs: number): number | null {
    const config = getConfig(this.env);
    const next = this.#keepalive.nextDeadline();
    const ping = next === null ? null : next - pingLeadMs(config.keepalive.anthropicTtlMs);
    // A Gemini explicit cache's deletion review wakes the tracker too (gemini-review.ts); only a tenant
    // with a live cache has one to review.
    this.#geminiUntil ??= latestExpiry(this.ctx.storage.sql);
    const review = this.#geminiUntil > nowMs ? nextGeminiReview(this.ctx.storage.sql, config, nowMs) : null;
    return ping === null ? review : review === null ? ping : Math.min(ping, review);
  }

  /**
   * Sets the alarm for the next deadline and tells the registry. After a record (`afterRecord`), the registry
   * is told only what the cron could otherwise miss: a deadline earlier than the one it holds, or any change
   * once the one it holds comes due within REGISTRY_SLACK_MS. A deadline that only moved later (every turn
   * of a busy conversation moves it) leaves the registry early, which costs at most one sweep that finds
   * nothing due and reports the right time; a sweep always reports.
   */
  async #reschedule(afterRecord = false): Promise<void> {
    const nowMs = now();
    const wake = this.#nextWake(nowMs);
    // After a record, an alarm still to come before the new wake stays: it fires early, its sweep finds
    // nothing due and sets the next one. Every turn of a busy conversation moves its deadline later, and
    // setting the alarm each time was most of a record's time (bench/report/overhead.md).
    const set = this.#alarmAt;
    const keep = afterRecord && wake !== null && typeof set === "number" && nowMs < set && set < wake;
    if (wake === null) {
      if (set !== null) await this.ctx.storage.deleteAlarm();
      this.#alarmAt = null;
    } else if (wake !== set && !keep) {
      // Alarms fire on the wall clock; the deadline is on the shared clock (they differ only with DEV_CLOCK).
      await this.ctx.storage.setAlarm(wake - clockOffset());
      this.ctx.storage.sql.exec(
        "INSERT INTO meta (key, value) VALUES ('alarm_at', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        String(wake),
      );
      this.#alarmAt = wake;
    }
    const reported = this.#reportedWake;
    const stale =
      reported === undefined ||
      wake === null ||
      reported === null ||
      wake < reported ||
      reported <= nowMs + REGISTRY_SLACK_MS;
    const tenant = this.#tenant();
    if (tenant && wake !== reported && (!afterRecord || stale)) {
      this.#reportedWake = wake;
      try {
        await registry(this.env).set(tenant, wake);
      } catch {
        // The registry only lets the cron find this tenant; the alarm still fires without it.
      }
    }
  }

  /** Seals the request's redacted excerpts (only requests with volatile head segments carry any). */
  async #sealExcerpts(r: RecordRequest): Promise<Map<number, Sealed>> {
    const out = new Map<number, Sealed>();
    if (!r.excerpts?.length) return out;
    const secret = getConfig(this.env).secret;
    for (const e of r.excerpts) {
      out.set(e.segment, await seal(secret, r.tenantId, `excerpt:${r.requestId}`, e.excerpt, "excerpt"));
    }
    return out;
  }

  /** Read once per instance: only `configureKeepalive` and `purge` (on this object) change them. */
  #settings(): KeepaliveSettings {
    if (this.#keepaliveSettings) return this.#keepaliveSettings;
    const row = this.ctx.storage.sql
      .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'keepalive'")
      .toArray()[0];
    this.#keepaliveSettings = resolveKeepalive(row ? JSON.parse(row.value) : null);
    return this.#keepaliveSettings;
  }

  /** A Gemini cache now lives until `expireAt`. */
  #geminiExpiring(expireAt: number): void {
    if (this.#geminiUntil !== undefined) this.#geminiUntil = Math.max(this.#geminiUntil, expireAt);
  }

  #tenant(): string | null {
    // Read once per instance once known: the first record stores it and nothing changes it (purge forgets).
    this.#tenantId ??=
      this.ctx.storage.sql
        .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'tenant_id'")
        .toArray()[0]?.value ?? undefined;
    return this.#tenantId ?? null;
  }

  #rememberTenant(tenantId: string): void {
    // The object belongs to one tenant: once per instance is enough (INSERT OR IGNORE keeps the first).
    if (this.#tenantRemembered) return;
    this.ctx.storage.sql.exec("INSERT OR IGNORE INTO meta (key, value) VALUES ('tenant_id', ?)", tenantId);
    this.#tenantRemembered = true;
  }

  #housekeeping(nowMs: number): void {
    const sql = this.ctx.storage.sql;
    this.#chains.forget(); // lineages' chains are trimmed below
    sql.exec("DELETE FROM requests WHERE at < ?", nowMs - LIMITS.requestsRetentionMs);
    sql.exec("DELETE FROM rescues WHERE at < ?", nowMs - LIMITS.requestsRetentionMs);
    sql.exec("DELETE FROM requests WHERE id <= (SELECT MAX(id) FROM requests) - ?", LIMITS.requests);
    sql.exec("DELETE FROM rescues WHERE id <= (SELECT MAX(id) FROM rescues) - ?", LIMITS.requests);
    sql.exec(
      `DELETE FROM recent_chains WHERE lineage NOT IN
        (SELECT lineage FROM recent_chains GROUP BY lineage ORDER BY MAX(at) DESC LIMIT ?)`,
      LIMITS.lineages,
    );
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
    this.#conversationStore.trim(LIMITS.conversations, LIMITS.familyTables);
    this.#planInputs.trim(LIMITS.families, LIMITS.calibratedModels);
    trimLastMessages(sql);
    this.#keepalive.expire(nowMs);
    sql.exec("DELETE FROM keepalive WHERE state <> 'live' AND last_use < ?", nowMs - 24 * 3600_000);
  }
}

/** The family's rate and the model's calibration, as of `nowMs`. */

function rejectInvalid(check: () => unknown): { ok: false; error: string } | null {
  try {
    check();
    return null;
  } catch (err) {
    if (err instanceof TrackerInputError) return { ok: false, error: err.message };
    throw err;
  }
}

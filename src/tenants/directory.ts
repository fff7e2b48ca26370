import { DurableObject } from "cloudflare:workers";
import type { CanonicalizeRules } from "../canonicalize/rules.ts";
import { getConfig } from "../core/config.ts";
import { open, openLegacyV1, seal } from "../core/crypto.ts";
import type { Provider, ProviderKeyName } from "../core/provider.ts";
import type { RpcResult } from "../core/rpc.ts";
import { type CacheSettings, resolveCacheSettings } from "../plan/settings.ts";
import { generateTenantKey, sha256, toHex } from "./keys.ts";
import { parseScope, tenantScope } from "./scope.ts";
import type { Actor, AuditEntry, JsonValue, ProviderKeyState, ResolvedTenant, TenantInfo } from "./types.ts";

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS tenants (
    id TEXT PRIMARY KEY,
    key_sha256 TEXT UNIQUE,
    created_at INTEGER NOT NULL,
    key_rotated_at INTEGER,
    canonicalize TEXT NOT NULL
  )`,
  // Provider keys sealed with the tenant's AES-GCM key (HKDF of STOKER_SECRET), bound to tenant and provider.
  `CREATE TABLE IF NOT EXISTS provider_keys (
    tenant TEXT NOT NULL,
    provider TEXT NOT NULL,
    iv BLOB NOT NULL,
    sealed BLOB NOT NULL,
    set_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, provider)
  )`,
  `CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    tenant TEXT NOT NULL,
    detail TEXT NOT NULL,
    request_id TEXT NOT NULL
  )`,
  `CREATE INDEX IF NOT EXISTS audit_at ON audit (at)`,
  // The tenant's cache settings that differ from the defaults (JSON; plan/settings.ts), one row per tenant.
  `CREATE TABLE IF NOT EXISTS cache_settings (tenant TEXT PRIMARY KEY, settings TEXT NOT NULL)`,
  // The last generation of each deleted id: a tenant created again gets the next one (src/tenants/scope.ts).
  `CREATE TABLE IF NOT EXISTS tombstones (
    id TEXT PRIMARY KEY,
    generation INTEGER NOT NULL,
    deleted_at INTEGER NOT NULL
  )`,
];

/** Columns added after the first schema: each added once, on the first wake that misses it. */
const COLUMNS: [table: string, column: string, definition: string][] = [
  ["tenants", "generation", "INTEGER NOT NULL DEFAULT 0"],
  // 1: sealed under the one label every purpose shared; 2: the provider-key label and the tenant's scope.
  ["provider_keys", "kdf", "INTEGER NOT NULL DEFAULT 1"],
];

/** Kept audit entries (newest); older ones are dropped. */
const AUDIT_KEEP = 50_000;

const providerContext = (tenant: string, provider: ProviderKeyName) => `provider-key:${tenant}:${provider}`;

interface TenantRow extends Record<string, SqlStorageValue> {
  id: string;
  key_sha256: string | null;
  created_at: number;
  key_rotated_at: number | null;
  canonicalize: string;
  generation: number;
}

/**
 * Tenants created through the admin API (one object, `idFromName("global")`): key hashes, canonicalization
 * settings, sealed provider keys and the audit log. Tenants from the TENANTS config never live here.
 * Every change writes its audit entry in the same transaction.
 */
export class TenantDirectory extends DurableObject<Env> {
  /** Key lookups this instance served since it woke (the flood tests read it). */
  lookups = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      for (const s of SCHEMA) ctx.storage.sql.exec(s);
      for (const [table, column, definition] of COLUMNS) {
        const has = ctx.storage.sql
          .exec<{ name: string }>(`SELECT name FROM pragma_table_info('${table}')`)
          .toArray()
          .some((c) => c.name === column);
        if (!has) ctx.storage.sql.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
      }
      try {
        await this.migrateProviderKeys();
      } catch {
        // No usable config (no STOKER_SECRET outside local dev): nothing is served anyway; next wake retries.
      }
    });
  }

  /** `npm run chaos` only (STOKER_LOCAL_DEV): the object resets itself (Tracker.chaosAbort). Elsewhere nothing. */
  chaosAbort(): boolean {
    if (!getConfig(this.env).loopbackOnly) return false;
    this.ctx.abort("chaos: reset on request (local development)");
    return true;
  }

  /** The tenant whose key hashes to `keySha256Hex`, with its provider keys opened, or null. */
  async resolve(keySha256Hex: string): Promise<ResolvedTenant | null> {
    this.lookups++;
    const row = this.#sql
      .exec<TenantRow>("SELECT * FROM tenants WHERE key_sha256 = ?", keySha256Hex.toLowerCase())
      .toArray()[0];
    if (!row) return null;
    return {
      id: tenantScope(row.id, row.generation),
      canonicalize: JSON.parse(row.canonicalize) as Partial<CanonicalizeRules>,
      cache: this.#cache(row.id),
      ...(await this.providerKeys(row.id)),
    };
  }

  /**
   * The tenant's own provider keys, opened (for requests and keepalive pings; never returned by the API), and
   * the providers whose sealed key does not open (sealed under another STOKER_SECRET, or damaged). A broken
   * key is never replaced by the deploy's: requests and pings for that provider are refused until an admin
   * sets it again.
   */
  async providerKeys(tenant: string): Promise<ProviderKeyState> {
    const secret = getConfig(this.env).secret;
    const out: Partial<Record<ProviderKeyName, string>> = {};
    const broken: ProviderKeyName[] = [];
    const scope = tenantScope(tenant, this.#row(tenant)?.generation ?? 0);
    const rows = this.#sql
      .exec<{ provider: ProviderKeyName; iv: ArrayBuffer; sealed: ArrayBuffer; kdf: number }>(
        "SELECT provider, iv, sealed, kdf FROM provider_keys WHERE tenant = ?",
        tenant,
      )
      .toArray();
    for (const r of rows) {
      const sealed = { iv: r.iv, data: r.sealed };
      const context = providerContext(tenant, r.provider);
      try {
        out[r.provider] =
          r.kdf >= 2
            ? await open(secret, scope, context, sealed, "provider-key")
            : await openLegacyV1(secret, tenant, context, sealed);
      } catch {
        broken.push(r.provider);
      }
    }
    return { providerKeys: out, brokenProviderKeys: broken };
  }

  /**
   * Re-seals provider keys sealed before v2 (one label for every purpose, no generation) under the
   * provider-key label and the tenant's scope; runs on every wake and does nothing once all are v2. A key
   * that does not open (another STOKER_SECRET) is left as it is, shown broken until an admin sets it again.
   */
  async migrateProviderKeys(): Promise<{ migrated: number; failed: number }> {
    const secret = getConfig(this.env).secret;
    const rows = this.#sql
      .exec<{ tenant: string; provider: ProviderKeyName; iv: ArrayBuffer; sealed: ArrayBuffer }>(
        "SELECT tenant, provider, iv, sealed FROM provider_keys WHERE kdf < 2",
      )
      .toArray();
    let migrated = 0;
    let failed = 0;
    for (const r of rows) {
      const context = providerContext(r.tenant, r.provider);
      let plain: string;
      try {
        plain = await openLegacyV1(secret, r.tenant, context, { iv: r.iv, data: r.sealed });
      } catch {
        failed++;
        continue;
      }
      const scope = tenantScope(r.tenant, this.#row(r.tenant)?.generation ?? 0);
      const v2 = await seal(secret, scope, context, plain, "provider-key");
      this.#sql.exec(
        "UPDATE provider_keys SET iv = ?, sealed = ?, kdf = 2 WHERE tenant = ? AND provider = ?",
        v2.iv,
        v2.data,
        r.tenant,
        r.provider,
      );
      migrated++;
    }
    return { migrated, failed };
  }

  async create(
    id: string,
    canonicalize: Partial<CanonicalizeRules>,
    by: Actor,
    cache: Partial<CacheSettings> = {},
  ): Promise<RpcResult<{ key: string; tenant: TenantInfo }>> {
    if (this.#row(id)) return { ok: false, error: "exists" };
    const key = generateTenantKey();
    const now = Date.now();
    const hash = toHex(await sha256(key));
    const last = this.#sql
      .exec<{ generation: number }>("SELECT generation FROM tombstones WHERE id = ?", id)
      .toArray()[0];
    const generation = last === undefined ? 0 : last.generation + 1;
    this.ctx.storage.transactionSync(() => {
      this.#sql.exec(
        "INSERT INTO tenants (id, key_sha256, created_at, key_rotated_at, canonicalize, generation) VALUES (?, ?, ?, NULL, ?, ?)",
        id,
        hash,
        now,
        JSON.stringify(canonicalize),
        generation,
      );
      this.#sql.exec("DELETE FROM cache_settings WHERE tenant = ?", id);
      if (Object.keys(cache).length > 0)
        this.#sql.exec(
          "INSERT INTO cache_settings (tenant, settings) VALUES (?, ?)",
          id,
          JSON.stringify(resolveCacheSettings(cache)),
        );
      this.#audit(by, "tenant.create", id, { canonicalize, cache, generation });
    });
    return { ok: true, value: { key, tenant: (await this.#info(id)) as TenantInfo } };
  }

  async get(id: string): Promise<TenantInfo | null> {
    return await this.#info(id);
  }

  async list(limit: number, offset: number): Promise<TenantInfo[]> {
    const ids = this.#sql
      .exec<{ id: string }>("SELECT id FROM tenants ORDER BY id LIMIT ? OFFSET ?", limit, offset)
      .toArray();
    const out: TenantInfo[] = [];
    for (const r of ids) out.push((await this.#info(r.id)) as TenantInfo);
    return out;
  }

  /** A new key replaces the old one at once (the old key stops working; edge caches expire within seconds). */
  async rotateKey(id: string, by: Actor): Promise<RpcResult<{ key: string }>> {
    if (!this.#row(id)) return { ok: false, error: "not_found" };
    const key = generateTenantKey();
    const hash = toHex(await sha256(key));
    this.ctx.storage.transactionSync(() => {
      this.#sql.exec(
        "UPDATE tenants SET key_sha256 = ?, key_rotated_at = ? WHERE id = ?",
        hash,
        Date.now(),
        id,
      );
      this.#audit(by, "tenant.key.rotate", id, {});
    });
    return { ok: true, value: { key } };
  }

  /** The tenant stays (with its data) but no key opens it until a rotation issues a new one. */
  async revokeKey(id: string, by: Actor): Promise<RpcResult<TenantInfo>> {
    if (!this.#row(id)) return { ok: false, error: "not_found" };
    this.ctx.storage.transactionSync(() => {
      this.#sql.exec("UPDATE tenants SET key_sha256 = NULL, key_rotated_at = ? WHERE id = ?", Date.now(), id);
      this.#audit(by, "tenant.key.revoke", id, {});
    });
    return { ok: true, value: (await this.#info(id)) as TenantInfo };
  }

  /** Sets (a string) or clears (null) each given provider key; the audit says which, never the value. */
  async setProviderKeys(
    id: string,
    keys: Partial<Record<ProviderKeyName, string | null>>,
    by: Actor,
  ): Promise<RpcResult<TenantInfo>> {
    if (!this.#row(id)) return { ok: false, error: "not_found" };
    const secret = getConfig(this.env).secret;
    const sealed = new Map<ProviderKeyName, { iv: ArrayBuffer; data: ArrayBuffer } | null>();
    for (const [provider, value] of Object.entries(keys) as [ProviderKeyName, string | null][]) {
      sealed.set(
        provider,
        value === null
          ? null
          : await seal(
              secret,
              tenantScope(id, this.#row(id)?.generation ?? 0),
              providerContext(id, provider),
              value,
              "provider-key",
            ),
      );
    }
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      const detail: Record<string, string> = {};
      for (const [provider, s] of sealed) {
        if (s === null)
          this.#sql.exec("DELETE FROM provider_keys WHERE tenant = ? AND provider = ?", id, provider);
        else
          this.#sql.exec(
            `INSERT INTO provider_keys (tenant, provider, iv, sealed, set_at, kdf) VALUES (?, ?, ?, ?, ?, 2)
              ON CONFLICT (tenant, provider) DO UPDATE SET iv = excluded.iv, sealed = excluded.sealed, set_at = excluded.set_at, kdf = 2`,
            id,
            provider,
            s.iv,
            s.data,
            now,
          );
        detail[provider] = s === null ? "cleared" : "set";
      }
      this.#audit(by, "tenant.provider_keys", id, detail);
    });
    return { ok: true, value: (await this.#info(id)) as TenantInfo };
  }

  async setCanonicalize(
    id: string,
    rules: Partial<CanonicalizeRules>,
    by: Actor,
  ): Promise<RpcResult<TenantInfo>> {
    const row = this.#row(id);
    if (!row) return { ok: false, error: "not_found" };
    const merged = { ...(JSON.parse(row.canonicalize) as Partial<CanonicalizeRules>), ...rules };
    this.ctx.storage.transactionSync(() => {
      this.#sql.exec("UPDATE tenants SET canonicalize = ? WHERE id = ?", JSON.stringify(merged), id);
      this.#audit(by, "tenant.canonicalize", id, { canonicalize: rules });
    });
    return { ok: true, value: (await this.#info(id)) as TenantInfo };
  }

  /** Sets the given cache settings (the others keep their values). */
  async setCache(id: string, cache: Partial<CacheSettings>, by: Actor): Promise<RpcResult<TenantInfo>> {
    if (!this.#row(id)) return { ok: false, error: "not_found" };
    const merged = resolveCacheSettings(cache, this.#cache(id));
    this.ctx.storage.transactionSync(() => {
      this.#sql.exec(
        "INSERT INTO cache_settings (tenant, settings) VALUES (?, ?) ON CONFLICT (tenant) DO UPDATE SET settings = excluded.settings",
        id,
        JSON.stringify(merged),
      );
      this.#audit(by, "tenant.cache", id, { cache });
    });
    return { ok: true, value: (await this.#info(id)) as TenantInfo };
  }

  /** Records a change made elsewhere (keepalive settings live in the tenant's tracker). */
  async audit(by: Actor, action: string, tenant: string, detail: Record<string, JsonValue>): Promise<void> {
    this.#audit(by, action, tenant, detail);
  }

  async remove(id: string, by: Actor): Promise<RpcResult<null>> {
    if (!this.#row(id)) return { ok: false, error: "not_found" };
    const generation = (this.#row(id) as TenantRow).generation;
    this.ctx.storage.transactionSync(() => {
      this.#sql.exec("DELETE FROM provider_keys WHERE tenant = ?", id);
      this.#sql.exec("DELETE FROM cache_settings WHERE tenant = ?", id);
      this.#sql.exec("DELETE FROM tenants WHERE id = ?", id);
      this.#sql.exec(
        `INSERT INTO tombstones (id, generation, deleted_at) VALUES (?, ?, ?)
          ON CONFLICT (id) DO UPDATE SET generation = excluded.generation, deleted_at = excluded.deleted_at`,
        id,
        generation,
        Date.now(),
      );
      this.#audit(by, "tenant.delete", id, { generation });
    });
    return { ok: true, value: null };
  }

  /**
   * What a tracker's keepalive sweep needs of its tenant (by scope): whether that creation of the tenant
   * still exists with a key (a revoked, rotated-away or deleted one pings no more), and its provider keys.
   */
  async keepaliveState(scope: string): Promise<ProviderKeyState & { active: boolean }> {
    const { id, generation } = parseScope(scope);
    const row = this.#row(id);
    const active = row !== undefined && row.generation === generation && row.key_sha256 !== null;
    if (!active) return { active, providerKeys: {}, brokenProviderKeys: [] };
    return { active, ...(await this.providerKeys(id)) };
  }

  /** Newest first; `before` (an entry's id) pages back. */
  async auditLog(limit: number, before: number | null): Promise<AuditEntry[]> {
    return this.#sql
      .exec<AuditEntry & Record<string, SqlStorageValue>>(
        "SELECT id, at, actor, action, tenant, detail, request_id FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?",
        before ?? Number.MAX_SAFE_INTEGER,
        limit,
      )
      .toArray()
      .map((r) => ({ ...r }));
  }

  get #sql(): SqlStorage {
    return this.ctx.storage.sql;
  }

  #row(id: string): TenantRow | undefined {
    return this.#sql.exec<TenantRow>("SELECT * FROM tenants WHERE id = ?", id).toArray()[0];
  }

  #cache(id: string): CacheSettings {
    const row = this.#sql
      .exec<{ settings: string }>("SELECT settings FROM cache_settings WHERE tenant = ?", id)
      .toArray()[0];
    return resolveCacheSettings(row ? JSON.parse(row.settings) : null);
  }

  async #info(id: string): Promise<TenantInfo | null> {
    const row = this.#row(id);
    if (!row) return null;
    const { providerKeys, brokenProviderKeys } = await this.providerKeys(id);
    const state = (p: Provider) =>
      brokenProviderKeys.includes(p) ? "broken" : providerKeys[p] !== undefined ? "set" : "unset";
    return {
      id: row.id,
      source: "directory",
      generation: row.generation,
      created_at: row.created_at,
      key_set: row.key_sha256 !== null,
      key_rotated_at: row.key_rotated_at,
      provider_keys: {
        anthropic: state("anthropic") !== "unset",
        openai: state("openai") !== "unset",
        gemini: state("gemini") !== "unset",
        bedrock: state("bedrock") !== "unset",
      },
      provider_key_state: {
        anthropic: state("anthropic"),
        openai: state("openai"),
        gemini: state("gemini"),
        bedrock: state("bedrock"),
      },
      compat_key_state: compatKeyState(providerKeys, brokenProviderKeys),
      canonicalize: JSON.parse(row.canonicalize) as Partial<CanonicalizeRules>,
      cache: this.#cache(id),
    };
  }

  #audit(by: Actor, action: string, tenant: string, detail: Record<string, unknown>): void {
    this.#sql.exec(
      "INSERT INTO audit (at, actor, action, tenant, detail, request_id) VALUES (?, ?, ?, ?, ?, ?)",
      Date.now(),
      by.actor,
      action,
      tenant,
      JSON.stringify(detail),
      by.requestId,
    );
    this.#sql.exec("DELETE FROM audit WHERE id <= (SELECT MAX(id) FROM audit) - ?", AUDIT_KEEP);
  }
}

/** The compat upstreams (`compat:<name>`) a tenant has its own key for, and whether each still opens. */
function compatKeyState(
  keys: Partial<Record<ProviderKeyName, string>>,
  broken: readonly ProviderKeyName[],
): Record<string, "set" | "broken"> {
  const out: Record<string, "set" | "broken"> = {};
  for (const name of Object.keys(keys)) if (name.startsWith("compat:")) out[name.slice(7)] = "set";
  for (const name of broken) if (name.startsWith("compat:")) out[name.slice(7)] = "broken";
  return out;
}

/** The one directory object. */
export function directory(env: Env): DurableObjectStub<TenantDirectory> {
  return env.TENANT_DIRECTORY.get(env.TENANT_DIRECTORY.idFromName("global"));
}

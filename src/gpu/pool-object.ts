import { DurableObject } from "cloudflare:workers";
import { getConfig } from "../core/config.ts";
import { seal } from "../core/crypto.ts";
import type { GpuPoolConfig } from "../core/gpu-config.ts";
import type { RpcResult } from "../core/rpc.ts";
import { CHUNK_TOKENS, MAX_CHUNKS } from "./chunks.ts";
import { type BackendSnapshot, type FinishReport, PoolState, type RouteDecision } from "./pool-state.ts";
import { GPU_PATHS } from "./prompt.ts";
import { MAX_TOUCH_BYTES, type RememberInput } from "./remember.ts";
import { nextLook } from "./touch.ts";
import { RECHECK_MS, residencyMs, runTouches, type TouchReport } from "./touch-run.ts";
import { migrateTouches, TouchStore } from "./touch-store.ts";

/** Index size per backend when its KV cache size is not configured: about a million tokens. */
export const DEFAULT_INDEX_CHUNKS = 4096;
/**
 * Keys the whole pool's index holds at most (~200 bytes each in memory: ~40 MB of the object's 128 MB). A
 * pool whose caches add up to more than ~50M tokens gets a proportionally smaller index per backend.
 */
export const MAX_INDEX_KEYS = 200_000;
/** Keepalive rows one sweep looks at (each may be one subrequest). */
const SWEEP_LIMIT = 20;
const KEY = /^[A-Za-z0-9_-]{8,64}$/;

/** What the edge asks the pool for one request (validated: RPC input is untrusted). */
export interface RouteInput {
  chunks: string[];
  tokens: number;
  exclude: number[];
  rotation: number;
}

/** The router's parameters for a configured pool. */
export function poolSpec(pool: GpuPoolConfig) {
  const wanted = pool.backends.map((b) =>
    b.kvCacheTokens ? Math.ceil(b.kvCacheTokens / CHUNK_TOKENS) : DEFAULT_INDEX_CHUNKS,
  );
  const scale = Math.min(1, MAX_INDEX_KEYS / wanted.reduce((a, x) => a + x, 0));
  return {
    backends: pool.backends.map((b, i) => ({
      weight: b.weight,
      indexChunks: Math.max(1, Math.floor((wanted[i] as number) * scale)),
    })),
    epsilon: pool.epsilon,
    indexTtlMs: pool.indexTtlMs,
    prefillTokensPerS: pool.prefillTokensPerS,
    chunkTokens: CHUNK_TOKENS,
  };
}

/**
 * One per GPU pool (`idFromName(pool)`): the pool's router. Its state (prefix index, in-flight leases,
 * health, queue estimates) lives in memory: it is soft, approximate and rebuilt by traffic within minutes,
 * and every request reads and writes it, which SQLite would turn into hundreds of row writes per request.
 * A restart costs some misrouted requests, never a wrong answer. SQLite holds only the keepalive candidates.
 */
export class GpuPool extends DurableObject<Env> {
  #state: PoolState | null = null;
  #fingerprint = "";
  readonly #touches: TouchStore;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => migrateTouches(ctx.storage.sql));
    this.#touches = new TouchStore(ctx.storage.sql);
  }

  /** Chooses a backend for a request and counts it in flight there until `finish`. */
  async route(pool: string, input: RouteInput, nowMs: number): Promise<RpcResult<RouteDecision>> {
    const state = this.#pool(pool);
    if (!state) return { ok: false, error: `unknown pool ${String(pool).slice(0, 64)}` };
    const bad = invalidRoute(input, state.spec.backends.length);
    if (bad) return { ok: false, error: `invalid route input: ${bad}` };
    const decision = state.route(input, clock(nowMs));
    return decision ? { ok: true, value: decision } : { ok: false, error: "every backend was excluded" };
  }

  /** Ends a lease with what the backend did. Unknown leases (expired, or from before a restart) are ignored. */
  async finish(
    pool: string,
    lease: number,
    report: FinishReport,
    nowMs: number,
  ): Promise<RpcResult<boolean>> {
    const state = this.#pool(pool);
    if (!state) return { ok: false, error: "unknown pool" };
    if (!Number.isSafeInteger(lease) || report === null || typeof report !== "object")
      return { ok: false, error: "invalid finish input" };
    const clean: FinishReport = {
      ok: report.ok === true,
      failed: report.failed === true,
      ...(count(report.promptTokens) ? { promptTokens: report.promptTokens } : {}),
      ...(count(report.cachedTokens) ? { cachedTokens: report.cachedTokens } : {}),
    };
    return { ok: true, value: state.finish(lease, clean, clock(nowMs)) };
  }

  /** Per backend: load, health, index size, queue estimate (tests, operators). */
  async snapshot(pool: string, nowMs = Date.now()): Promise<RpcResult<BackendSnapshot[]>> {
    const state = this.#pool(pool);
    if (!state) return { ok: false, error: "unknown pool" };
    return { ok: true, value: state.snapshot(clock(nowMs)) };
  }

  /** Keeps a conversation's latest prompt (sealed) as a keepalive candidate and schedules its first look. */
  async remember(pool: string, input: RememberInput): Promise<RpcResult<boolean>> {
    const state = this.#pool(pool);
    const config = getConfig(this.env);
    const poolConfig = config.gpuPools.get(pool);
    if (!state || !poolConfig?.keepalive) return { ok: false, error: "no keepalive for this pool" };
    const bad = invalidRemember(input, poolConfig.backends.length);
    if (bad) return { ok: false, error: `invalid remember input: ${bad}` };
    const at = clock(input.at);
    const sealed = await seal(config.secret, input.tenantId, `gpu:${input.key}`, input.body, "gpu-touch");
    const residency = residencyMs(poolConfig, state, input.backend, at);
    this.#touches.upsert({
      tenant: input.tenantId,
      key: input.key,
      backend: input.backend,
      endpoint: input.endpoint,
      tokens: input.tokens,
      chunks: input.chunks,
      sealed,
      at,
      nextAt: (Number.isNaN(residency) ? null : nextLook(at, residency)) ?? at + RECHECK_MS,
    });
    this.ctx.storage.sql.exec(
      "INSERT INTO meta (key, value) VALUES ('pool', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      pool,
    );
    await this.#reschedule();
    return { ok: true, value: true };
  }

  /** Deletes every keepalive row (sealed prompts) of a tenant's scope: a deleted tenant leaves none here. */
  async forgetTenant(scope: string): Promise<number> {
    return this.ctx.storage.sql.exec("DELETE FROM touches WHERE tenant = ?", scope).rowsWritten;
  }

  /** One keepalive sweep as of `nowMs` (the alarm calls it; tests call it with a simulated time). */
  async runKeepalive(pool: string, nowMs: number): Promise<RpcResult<TouchReport>> {
    const state = this.#pool(pool);
    const config = getConfig(this.env);
    const poolConfig = config.gpuPools.get(pool);
    if (!state || !poolConfig) return { ok: false, error: "unknown pool" };
    const empty: TouchReport = { due: 0, touched: 0, deferred: 0, dropped: 0, gpuSeconds: 0 };
    const report =
      poolConfig.keepalive && config.keepalive.enabled
        ? await runTouches(
            { store: this.#touches, state, pool: poolConfig, config, env: this.env },
            clock(nowMs),
            SWEEP_LIMIT,
          )
        : empty;
    await this.#reschedule();
    return { ok: true, value: report };
  }

  override async alarm(): Promise<void> {
    const row = this.ctx.storage.sql
      .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'pool'")
      .toArray()[0];
    if (row) await this.runKeepalive(row.value, Date.now());
  }

  async #reschedule(): Promise<void> {
    const next = this.#touches.nextDue();
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(Math.max(next, Date.now() + 1000));
  }

  /** The pool's state, rebuilt when its configuration changed (a deploy with other backends). */
  #pool(name: string): PoolState | null {
    if (typeof name !== "string") return null;
    const config = getConfig(this.env).gpuPools.get(name);
    if (!config) return null;
    const fingerprint = JSON.stringify(poolSpec(config));
    if (!this.#state || fingerprint !== this.#fingerprint) {
      this.#state = new PoolState(poolSpec(config));
      this.#fingerprint = fingerprint;
    }
    return this.#state;
  }
}

const count = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** The caller's clock, unless it is absurd (then the object's own). */
function clock(nowMs: unknown): number {
  const own = Date.now();
  return typeof nowMs === "number" && Number.isFinite(nowMs) && Math.abs(nowMs - own) < 86_400_000 * 366
    ? nowMs
    : own;
}

function invalidRemember(r: RememberInput, backends: number): string | null {
  if (r === null || typeof r !== "object") return "input";
  if (typeof r.tenantId !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(r.tenantId)) return "tenantId";
  if (typeof r.key !== "string" || !KEY.test(r.key)) return "key";
  if (!Number.isSafeInteger(r.backend) || r.backend < 0 || r.backend >= backends) return "backend";
  if (typeof r.endpoint !== "string" || !Object.hasOwn(GPU_PATHS, r.endpoint)) return "endpoint";
  if (!count(r.tokens)) return "tokens";
  if (!Array.isArray(r.chunks) || r.chunks.length > MAX_CHUNKS) return "chunks";
  for (const c of r.chunks) if (typeof c !== "string" || !KEY.test(c)) return "chunk";
  if (typeof r.body !== "string" || r.body.length > MAX_TOUCH_BYTES * 2) return "body";
  return null;
}

function invalidRoute(input: RouteInput, backends: number): string | null {
  if (input === null || typeof input !== "object") return "input";
  if (!Array.isArray(input.chunks) || input.chunks.length > MAX_CHUNKS) return "chunks";
  for (const c of input.chunks) if (typeof c !== "string" || !KEY.test(c)) return "chunk";
  if (!count(input.tokens)) return "tokens";
  if (!Array.isArray(input.exclude) || input.exclude.length > backends) return "exclude";
  for (const b of input.exclude) if (!Number.isSafeInteger(b) || b < 0 || b >= backends) return "exclude";
  if (typeof input.rotation !== "number" || !Number.isSafeInteger(input.rotation)) return "rotation";
  return null;
}

import { SIM_NOW_HEADER } from "../core/clock.ts";
import type { Config } from "../core/config.ts";
import { withinDeadline } from "../core/deadline.ts";
import type { Logger } from "../core/log.ts";
import { chooseCreation, chooseExtension, PERIOD_MS, storageUsd } from "../decide/gemini-policy.ts";
import { costOfUsage } from "../economics/cost.ts";
import type { ModelInfo } from "../economics/models.ts";
import {
  type CacheBoundary,
  cacheBoundaries,
  cacheCreateBody,
  type GeminiCacheRef,
  matchesCache,
  rewriteForCache,
} from "../plan/gemini.ts";
import type { Analysis } from "../prefix/types.ts";
import { recordSafely, trackerFor } from "../tracker/client.ts";
import { type GeminiCacheState, keptHeaders, type PrefixHistory } from "../tracker/gemini-caches.ts";
import {
  dropGeminiCache,
  heardGeminiCaches,
  heldGeminiCaches,
  holdGeminiCache,
} from "../tracker/gemini-held.ts";
import type { RecordRequest } from "../tracker/types.ts";
import type { Accounting } from "../upstream/accounting.ts";
import type { Usage } from "../upstream/usage.ts";
import type { Tenant } from "./auth.ts";

/** A cache this close to its expiry is not used (the request could arrive after it). */
const MARGIN_MS = 60_000;

/** What the edge does with Gemini explicit caches for one request. */
export interface ExplicitPlan {
  /** The request rewritten to use a live cache, or null (forward the canonical body). */
  body: string | null;
  ref: GeminiCacheState | null;
  /** For `x-stoker-plan`. */
  text: string | null;
  /** After the response, off the request path: count the use and extend, or decide and create. */
  after(usage: Usage | null, ok: boolean): Promise<void>;
  /** The provider refused the cache (expired early, deleted elsewhere): the isolate forgets it. */
  vanished(): void;
}

export interface ExplicitInput {
  env: Env;
  config: Config;
  tenant: Tenant;
  analysis: Analysis | null;
  /** The canonical body Stoker would forward without a cache. */
  canonical: string;
  model: string;
  /** The model's row, looked up once per request (proxy.ts). */
  info: ModelInfo;
  nowMs: number;
  /** The request's upstream headers (managed credential, the client's own headers). */
  headers: Headers;
  requestId: string;
  log: Logger;
}

type Lookup = { caches: GeminiCacheState[]; history: PrefixHistory[]; budgetLeftUsd: number };

/**
 * How long the answer after the response may take: off the request path, so a far tracker's round trip is
 * waited for, within waitUntil's 30 s (the creation and its record come after it).
 */
const AFTER_DEADLINE_MS = 5_000;

/** The tracker's answer for `hashes`, after the response (within AFTER_DEADLINE_MS), or null. */
async function lookup(input: ExplicitInput, hashes: string[]): Promise<Lookup | null> {
  try {
    const call = trackerFor(input.env, input.tenant.id).geminiCaches(
      hashes,
      input.model,
      input.nowMs,
      MARGIN_MS,
    );
    const answer = await withinDeadline(call, AFTER_DEADLINE_MS);
    if (answer === null) {
      input.log.warn("tracker.fault", { op: "gemini_caches", fault: "timeout" });
      return null;
    }
    return answer.ok ? answer.value : null;
  } catch (err) {
    input.log.warn("tracker.fault", {
      op: "gemini_caches",
      fault: err instanceof Error ? err.name : "unknown",
    });
    return null;
  }
}

/**
 * Plans a Gemini request's explicit cache from what this isolate holds, never a wait on the tracker: a live
 * cache of this tenant that holds exactly the request's prefix is used (the request rewritten byte-exactly);
 * after the response, off the request path, the tracker is asked what it knows (which warms the isolate's
 * copy, gemini-held.ts) and the cache is extended, or one created where the decision core says reuse pays.
 * Managed tenants only (a cache lives under the key that created it), never with the tenant's
 * `geminiExplicit` off. Fails open: null forwards the canonical body.
 */
export function planExplicit(input: ExplicitInput): ExplicitPlan | null {
  const { analysis, tenant } = input;
  if (analysis?.upstream !== "gemini" || tenant.mode !== "managed") return null;
  if (!tenant.cache.geminiExplicit || tenant.cache.disabled) return null;
  const model = input.info;
  if (model.cacheStyle !== "gemini" || model.storagePerMTokHour === undefined) return null;
  const boundaries = cacheBoundaries(analysis).filter((b) => b.tokens >= model.minCacheableTokens);
  if (boundaries.length === 0) return null;
  const hashes = boundaries.map((b) => b.hash);
  const held = heldGeminiCaches(tenant.id, input.model, hashes, input.nowMs, MARGIN_MS);
  const ref = held.find((c) => matchesCache(analysis, c)) ?? null;
  let body: string | null = null;
  if (ref) {
    try {
      body = rewriteForCache(input.canonical, ref);
    } catch (err) {
      input.log.warn("engine.fault", {
        op: "gemini_rewrite",
        fault: err instanceof Error ? err.name : "unknown",
      });
      return null;
    }
  }
  return {
    body,
    ref,
    text: ref ? `gemini cache=${ref.contents}:${ref.tokens}` : null,
    vanished: () => {
      if (ref) dropGeminiCache(tenant.id, ref.name);
    },
    after: async (usage, ok) => {
      const found = await lookup(input, hashes);
      if (!found) return;
      heardGeminiCaches(tenant.id, input.model, hashes, found.caches);
      if (ref) {
        // The tracker's row is the newer one (another isolate may have extended it meanwhile).
        const current = found.caches.find((c) => c.name === ref.name) ?? ref;
        await extend(input, model, current, found.history, found.budgetLeftUsd, ok);
      } else await maybeCreate(input, model, boundaries, found.history, found.budgetLeftUsd, usage, ok);
    },
  };
}

const historyOf = (history: PrefixHistory[], hash: string) => history.find((h) => h.hash === hash);

/** Counts the use and, when less than half a period is left and returns still pay storage, extends the TTL. */
async function extend(
  input: ExplicitInput,
  model: ModelInfo,
  ref: GeminiCacheState,
  history: PrefixHistory[],
  budgetLeftUsd: number,
  ok: boolean,
): Promise<void> {
  if (!ok) return;
  const now = input.nowMs;
  let expireAt: number | null = null;
  if (chooseExtension(ref, historyOf(history, ref.hash), model, now, budgetLeftUsd)) {
    const res = await upstream(input, "PATCH", `/v1beta/${ref.name}?updateMask=ttl`, {
      ttl: `${PERIOD_MS / 1000}s`,
    });
    if (res?.ok) {
      // The expiry the provider set (its clock), else ours.
      const answered = (await res.json().catch(() => null)) as { expireTime?: unknown } | null;
      const set = typeof answered?.expireTime === "string" ? Date.parse(answered.expireTime) : Number.NaN;
      expireAt = Number.isFinite(set) ? set : now + PERIOD_MS;
      holdGeminiCache(input.tenant.id, { ...ref, expireAt });
      const storage = storageUsd(model, ref.tokens, expireAt - ref.expireAt);
      await account(
        input,
        "cached_contents.update",
        0,
        storage,
        `gemini extend=${ref.contents}:${ref.tokens}`,
      );
    }
  }
  const stub = trackerFor(input.env, input.tenant.id);
  await quietly(input, "gemini_used", () => stub.geminiUsed(ref.name, now, expireAt));
}

/** Decides, from the longest boundary down, whether a cache pays; creates the first that does. */
async function maybeCreate(
  input: ExplicitInput,
  model: ModelInfo,
  boundaries: CacheBoundary[],
  history: PrefixHistory[],
  budgetLeftUsd: number,
  usage: Usage | null,
  ok: boolean,
): Promise<void> {
  if (!ok || !usage) return;
  const now = input.nowMs;
  // Estimated tokens scaled to what the provider counted for the whole prompt.
  const scale =
    input.analysis && input.analysis.totalTokens > 0 ? usage.inputTokens / input.analysis.totalTokens : 1;
  const b = chooseCreation(
    boundaries,
    (hash) => historyOf(history, hash),
    usage.cacheReadTokens,
    scale,
    model,
    now,
    budgetLeftUsd,
  );
  if (b) await create(input, model, b, now);
}

async function create(input: ExplicitInput, model: ModelInfo, b: CacheBoundary, now: number): Promise<void> {
  const stub = trackerFor(input.env, input.tenant.id);
  try {
    const claimed = await stub.geminiClaim(b.hash, input.model, now);
    if (!claimed.ok || !claimed.value) return;
  } catch {
    return;
  }
  let ref: GeminiCacheRef | null = null;
  let expireAt = now + PERIOD_MS;
  try {
    const body = cacheCreateBody(input.canonical, input.model, b, PERIOD_MS / 1000);
    const res = await upstream(input, "POST", "/v1beta/cachedContents", body);
    if (res?.ok) {
      const json = (await res.json()) as {
        name?: unknown;
        usageMetadata?: { totalTokenCount?: unknown };
        expireTime?: unknown;
        createTime?: unknown;
      };
      const tokens = Number(json.usageMetadata?.totalTokenCount);
      const time = (v: unknown) => (typeof v === "string" ? Date.parse(v) : Number.NaN);
      const expires = time(json.expireTime);
      if (Number.isFinite(expires)) expireAt = expires;
      // Storage runs from the provider's creation time to the expiry it set (the TTL it bills).
      const createdAt = Number.isFinite(time(json.createTime)) ? time(json.createTime) : now;
      if (typeof json.name === "string" && Number.isSafeInteger(tokens) && tokens > 0) {
        ref = { name: json.name, model: input.model, hash: b.hash, contents: b.contents, tokens };
        holdGeminiCache(input.tenant.id, { ...ref, expireAt, uses: 0 });
        const creation = costOfUsage(model, {
          inputTokens: tokens,
          uncachedTokens: 0,
          cacheReadTokens: 0,
          cacheWrite5mTokens: 0,
          cacheWrite1hTokens: tokens,
          outputTokens: 0,
        });
        await account(
          input,
          "cached_contents.create",
          creation,
          storageUsd(model, tokens, expireAt - createdAt),
          `gemini create=${b.contents}:${tokens}`,
          tokens,
        );
      }
    } else if (res) {
      input.log.info("gemini.cache_not_created", { status: res.status });
    }
  } catch (err) {
    input.log.warn("engine.fault", {
      op: "gemini_create",
      fault: err instanceof Error ? err.name : "unknown",
    });
  }
  await quietly(input, "gemini_created", () =>
    stub.geminiCreated(b.hash, ref, now, expireAt, keptHeaders(input.headers)),
  );
}

/** A call to the Gemini API with the request's credential (managed key) and headers. */
async function upstream(
  input: ExplicitInput,
  method: string,
  path: string,
  body: unknown,
): Promise<Response | null> {
  const headers = new Headers(input.headers);
  if (input.config.devClock) headers.set(SIM_NOW_HEADER, String(input.nowMs));
  try {
    return await fetch(`${input.config.upstreams.gemini.baseUrl}${path}`, {
      method,
      headers,
      body: typeof body === "string" ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(input.config.upstreamTimeoutMs),
    });
  } catch (err) {
    input.log.warn("upstream.fault", {
      op: `gemini_${method.toLowerCase()}`,
      fault: err instanceof Error ? err.name : "unknown",
    });
    return null;
  }
}

/**
 * An accounting row for a cache's creation or extension: what it costs (creation at the input price, and the
 * storage the period buys), with nothing it would have cost without caching, so savings are net of it.
 */
async function account(
  input: ExplicitInput,
  endpoint: string,
  creationUsd: number,
  storage: number,
  plan: string,
  tokens = 0,
): Promise<void> {
  const accounting: Accounting = {
    requestId: `${input.requestId}:${endpoint}`,
    at: input.nowMs,
    upstream: "gemini",
    endpoint,
    model: input.model.slice(0, 200),
    stream: false,
    keepalive: false,
    status: 200,
    result: "ok",
    usage: {
      inputTokens: tokens,
      uncachedTokens: 0,
      cacheReadTokens: 0,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: tokens,
      outputTokens: 0,
    },
    costUsd: creationUsd + storage,
    costWithoutCacheUsd: 0,
    ttfbMs: 0,
    durationMs: 0,
    plan,
  };
  const record: RecordRequest = {
    ...accounting,
    tenantId: input.tenant.id,
    family: null,
    conversation: null,
    estimatedTokens: 0,
    positions: [],
    chain: null,
    pricing: { inputPerToken: 0, cacheRead: 0 },
    capture: null,
  };
  await recordSafely(input.env, input.tenant.id, record, input.log);
}

/** A tracker call whose failure must not fail anything: logged as a tracker fault and dropped. */
async function quietly(input: ExplicitInput, op: string, call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (err) {
    input.log.warn("tracker.fault", { op, fault: err instanceof Error ? err.name : "unknown" });
  }
}

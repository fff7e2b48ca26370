import type { Context } from "hono";
import { parseCanonicalizeHeader, resolveRules } from "../canonicalize/rules.ts";
import { StokerError } from "../core/errors.ts";
import type { GpuBackendConfig, GpuPoolConfig } from "../core/gpu-config.ts";
import { finishSafely, ROUTE_DEADLINE_MS, type Route, routeWithDeadline } from "../gpu/pool-client.ts";
import { GPU_PATHS, type GpuEndpoint, type GpuPrepared, prepareGpu } from "../gpu/prompt.ts";
import { cacheSalt } from "../gpu/salt.ts";
import type { EndpointSpec } from "../upstream/endpoints.ts";
import { forward } from "../upstream/forward.ts";
import { type Credential, clientResponseHeaders, upstreamRequestHeaders } from "../upstream/headers.ts";
import { clientWantsStreamUsage, hideStreamUsage } from "../upstream/openai-stream-usage.ts";
import { relay } from "../upstream/relay.ts";
import type { Usage } from "../upstream/usage.ts";
import type { Tenant } from "./auth.ts";
import { readJsonBody } from "./body.ts";
import { overAnalysisBudget } from "./budget.ts";
import type { AppEnv } from "./context.ts";
import { recordGpu } from "./gpu-record.ts";
import { rememberForKeepalive } from "./gpu-remember.ts";
import { tenantSalt } from "./prepare.ts";

/** At most this many backends are tried for one request: the first choice and one retry. */
const ATTEMPTS = 2;

/** Managed tenants: the backend's key from the pool config (or none); pass-through: the client's own. */
function credential(tenant: Tenant, backend: GpuBackendConfig): Credential | undefined {
  if (tenant.mode === "passthrough") return undefined;
  return backend.key ? { header: "authorization", value: backend.key } : null;
}

function preparedOrRefused(prepare: () => GpuPrepared): GpuPrepared {
  try {
    return prepare();
  } catch (err) {
    if (err instanceof RangeError)
      throw new StokerError(400, "invalid_request_error", "The request body is nested too deeply.");
    throw err;
  }
}

/** A failure that another backend may not have: unreachable, timed out, overloaded or broken. */
const retryable = (status: number) => status >= 500 || status === 429;

/**
 * `POST /gpu/:pool/v1/chat/completions` and `/v1/completions`: authenticate (middleware), read, validate,
 * canonicalize and salt, route (pool object, bounded wait), forward, retry once on another backend when the
 * first fails before any byte reached the client, stream back unbuffered, then end the lease and account.
 */
export function gpuProxy(spec: EndpointSpec<GpuEndpoint>) {
  const endpoint = spec.endpoint;
  return async function gpuHandler(c: Context<AppEnv>): Promise<Response> {
    const { config, requestId, log, tenant } = c.var;
    const pool = config.gpuPools.get(c.req.param("pool") ?? "");
    if (!pool)
      throw new StokerError(
        404,
        "not_found_error",
        `No GPU pool named ${c.req.param("pool")?.slice(0, 64)}.`,
      );
    const { raw, body } = await readJsonBody(c.req.raw, config.maxBodyBytes);
    spec.validate(body);
    const stream = body.stream === true;
    const model = body.model as string;
    const startedAt = Date.now();

    const hideUsage = stream && !clientWantsStreamUsage(body);
    // Over the budget the prompt is not canonicalized (the analysis would hold several times the body); its
    // cache_salt and routing keys are still set, so tenant isolation does not depend on the body's size.
    const over = overAnalysisBudget(raw, body, config.analysisMaxBytes);
    const clientSalt = typeof body.cache_salt === "string" ? body.cache_salt : null;
    // Unlike the provider routes, no fail-open here: a body forwarded without its tenant's cache_salt would share
    // the backends' KV cache. A body nested too deeply to render (the stack runs out) is refused instead.
    const prepared = preparedOrRefused(() =>
      prepareGpu({
        endpoint,
        raw,
        body,
        tenantSalt: tenantSalt(config, tenant.id),
        cacheSalt: cacheSalt(config.secret, tenant.id, clientSalt),
        rules: resolveRules(
          tenant.canonicalize,
          parseCanonicalizeHeader(c.req.header("x-stoker-canonicalize") ?? null).override,
        ),
        requestUsage: hideUsage,
        skipAnalysis: over !== null,
      }),
    );
    if (prepared.fault) log.warn("engine.fault", { op: "analyze", upstream: "gpu" });

    const tried: number[] = [];
    let route: Route | null = null;
    let upstream: Response | null = null;
    let lastError: StokerError | null = null;
    const deadline = Math.max(ROUTE_DEADLINE_MS, config.trackerDeadlineMs);
    const rotation = rotationOf(prepared);
    const outcome = (status: number, result: string, usage: Usage | null, ttfbMs: number, plan: string) =>
      recordGpu(c, {
        requestId,
        tenantId: tenant.id,
        pool,
        endpoint,
        model,
        stream,
        status,
        result,
        usage,
        startedAt,
        ttfbMs,
        durationMs: Date.now() - startedAt,
        plan,
        backend: route?.backend ?? null,
        attempts: tried.length,
      });

    while (tried.length < Math.min(ATTEMPTS, pool.backends.length)) {
      const input = { chunks: prepared.chunks, tokens: prepared.tokens, exclude: tried, rotation };
      route = await routeWithDeadline(c.env, pool, input, Date.now(), deadline, log);
      if (!route) break;
      tried.push(route.backend);
      const backend = pool.backends[route.backend] as GpuBackendConfig;
      try {
        upstream = await forward({
          url: `${backend.url}${GPU_PATHS[endpoint]}${new URL(c.req.url).search}`,
          headers: upstreamRequestHeaders(c.req.raw.headers, credential(tenant, backend)),
          body: backend.cacheSalt ? prepared.withSalt : prepared.withoutSalt,
          timeoutMs: pool.timeoutMs ?? config.upstreamTimeoutMs,
          signal: c.req.raw.signal,
        });
      } catch (err) {
        if (!(err instanceof StokerError)) throw err;
        if (c.req.raw.signal.aborted) {
          // The client went away: not the backend's fault, and nobody is left to answer.
          finishLater(c, pool, route, { ok: false, failed: false });
          throw err;
        }
        lastError = err;
        upstream = null;
        finishLater(c, pool, route, { ok: false, failed: true });
        continue;
      }
      const last = tried.length >= Math.min(ATTEMPTS, pool.backends.length);
      if (!retryable(upstream.status) || last) break;
      // Nothing reached the client yet: this backend is skipped for a while and another one tries.
      finishLater(c, pool, route, { ok: false, failed: true });
      await upstream.body?.cancel();
      upstream = null;
    }

    const plan = route ? planText(route, prepared) : "gpu none";
    if (!upstream || !route) {
      const err = lastError ?? new StokerError(502, "bad_gateway", "No GPU backend could be reached.");
      outcome(err.status, err.status === 504 ? "timeout" : "unreachable", null, Date.now() - startedAt, plan);
      throw err;
    }
    const chosen = route;
    const headersMs = Date.now() - startedAt;
    const headers = clientResponseHeaders(upstream.headers);
    headers.set("x-stoker-request-id", requestId);
    headers.set("x-stoker-plan", plan);
    headers.set("x-stoker-backend", String(chosen.backend));
    if (over) headers.set("x-stoker-analysis", `skipped-over-budget-${over}`);
    if (config.simulator) headers.set("x-stoker-upstream", "simulator");
    const remember = (usage: Usage) =>
      rememberForKeepalive(c, {
        pool,
        endpoint,
        backend: chosen.backend,
        forwarded: (pool.backends[chosen.backend] as GpuBackendConfig).cacheSalt
          ? prepared.withSalt
          : prepared.withoutSalt,
        conversation: prepared.conversation,
        chunks: prepared.chunks,
        usage,
      });

    return relay({
      upstream,
      headers,
      startedAt,
      headersMs,
      spec,
      source: "The GPU backend's",
      rewriteEvent: hideUsage ? hideStreamUsage : undefined,
      // A backend that refuses a request's headers answers and resets: the client gets a clear 502.
      readErrors: true,
      clientSignal: c.req.raw.signal,
      onEnd: (e) => {
        // A stream that broke counts against the backend; a whole answer counts by its status.
        const failed = e.streamed ? e.end === "truncated" || e.end === "upstream_error" : retryable(e.status);
        const ok = e.streamed ? e.result === "ok" || e.end === "client_cancelled" : !failed;
        finishLater(c, pool, chosen, { ok, failed, ...tokens(e.usage) });
        outcome(e.status, e.result, e.usage, e.ttfbMs, plan);
        if (e.result === "ok" && e.usage) remember(e.usage);
      },
    });
  };
}

function tokens(usage: Usage | null): { promptTokens?: number; cachedTokens?: number } {
  return usage ? { promptTokens: usage.inputTokens, cachedTokens: usage.cacheReadTokens } : {};
}

function finishLater(
  c: Context<AppEnv>,
  pool: GpuPoolConfig,
  route: Route,
  report: { ok: boolean; failed: boolean; promptTokens?: number; cachedTokens?: number },
): void {
  c.executionCtx.waitUntil(finishSafely(c.env, pool.name, route.lease, report, c.var.log));
}

/** Ties between equal choices rotate with the prompt's deepest chunk: equal prompts choose alike. */
function rotationOf(p: GpuPrepared): number {
  const last = p.chunks.at(-1);
  if (!last) return 0;
  let h = 0;
  for (let i = 0; i < 8; i++) h = (Math.imul(h, 31) + last.charCodeAt(i)) | 0;
  return h & 0x7fffffff;
}

/** `x-stoker-plan`, e.g. `gpu backend=1 prefix match=12/40`. */
function planText(route: Route, p: GpuPrepared): string {
  const canon = p.applied.length > 0 ? ` canon=${p.applied.join("+")}` : "";
  return `gpu backend=${route.backend} ${route.reason} match=${route.match}/${p.chunks.length}${canon}`;
}

import type { Context } from "hono";
import { now, SIM_NOW_HEADER } from "../core/clock.ts";
import type { Config } from "../core/config.ts";
import { StokerError } from "../core/errors.ts";
import type { ProviderKeyName } from "../core/provider.ts";
import { compatModelInfo } from "../economics/compat.ts";
import { modelInfo } from "../economics/models.ts";
import { planLookup } from "../tracker/client.ts";
import { MAX_CAPTURE_BYTES } from "../tracker/validate.ts";
import { signBedrock } from "../upstream/bedrock-auth.ts";
import type { RenderedBody } from "../upstream/body/apply.ts";
import {
  askDiagnostics,
  diagnosticsField,
  hideDiagnostics,
  hideStreamDiagnostics,
  messageFacts,
} from "../upstream/diagnostics.ts";
import type { EndpointSpec } from "../upstream/endpoints.ts";
import { forward } from "../upstream/forward.ts";
import { type Credential, clientResponseHeaders, upstreamRequestHeaders } from "../upstream/headers.ts";
import {
  clientWantsStreamUsage,
  hideStreamUsage,
  requestStreamUsage,
  STREAM_USAGE_FIELD,
} from "../upstream/openai-stream-usage.ts";
import type { Outcome, Result } from "../upstream/outcome.ts";
import { relay } from "../upstream/relay.ts";
import { afterThisTurn } from "./after-turn.ts";
import { analysisMemo } from "./analysis-memo.ts";
import type { Tenant } from "./auth.ts";
import { bedrockUpstream } from "./bedrock-credential.ts";
import { type BytesBody, readRequestBody } from "./body.ts";
import { flattenJoined, keepParsed, noteScan } from "./body-memo.ts";
import { overAnalysisBudget, requestStreamUsageBytes, skipAnalysis } from "./budget.ts";
import { keepaliveCapture } from "./capture.ts";
import type { AppEnv } from "./context.ts";
import { type ExplicitPlan, planExplicit } from "./gemini-explicit.ts";
import { prepare, tenantSalt } from "./prepare.ts";
import { recordOutcome } from "./record.ts";
import { splice } from "./shallow-json.ts";
import {
  checkStoredIds,
  idTags,
  taggedTopLevel,
  tagResponseEvent,
  tagResponseText,
  untagBody,
} from "./stored-ids.ts";

/** The credential sent upstream: none added in pass-through mode, the tenant's provider key in managed mode. */
function credentialFor(tenant: Tenant, spec: EndpointSpec, config: Config): Credential | undefined {
  if (tenant.mode === "passthrough") return undefined;
  const keyName: ProviderKeyName = spec.compat ? `compat:${spec.compat.name}` : spec.flavor;
  const label = spec.compat ? `compat upstream ${spec.compat.name}` : spec.flavor;
  if (tenant.brokenProviderKeys.includes(keyName))
    throw new StokerError(
      403,
      "permission_error",
      `This tenant's own ${label} key can no longer be opened; an admin must set it again. Stoker does not send the deploy's key in its place.`,
    );
  const own = tenant.providerKeys[keyName];
  const key = own ?? (spec.compat ? spec.compat.apiKey : config.upstreams[spec.flavor].apiKey);
  if (key)
    return {
      header:
        spec.flavor === "anthropic"
          ? "x-api-key"
          : spec.flavor === "gemini"
            ? "x-goog-api-key"
            : "authorization",
      value: key,
      tenantOwned: own !== undefined,
    };
  // The simulator needs no key; a real provider does, and Stoker must not send the tenant key in its place.
  if (config.simulator) return null;
  const name = spec.compat
    ? `api_key of COMPAT_UPSTREAMS.${spec.compat.name}`
    : `${spec.flavor.toUpperCase()}_API_KEY secret`;
  throw new StokerError(
    401,
    "authentication_error",
    `Stoker has no ${label} key for this tenant. Set the ${name}, or send your own provider key with x-stoker-key: <tenant key> (pass-through mode).`,
  );
}

/**
 * The path below the route family's prefix, with the client's query string (e.g. `?beta=true`, `?alt=sse`).
 * In managed mode a Gemini `?key=` is the tenant's Stoker key: it never goes upstream.
 */
function upstreamUrl(c: Context<AppEnv>, spec: EndpointSpec): string {
  const url = new URL(c.req.url);
  // A compat route (`/compat/{name}/v1/...`): the upstream's base URL ends at its API version.
  if (spec.compat) {
    const rest = url.pathname.slice(`/compat/${spec.compat.name}/v1`.length);
    return `${spec.compat.baseUrl}${rest}${url.search}`;
  }
  const path = url.pathname.slice(`/${spec.flavor}`.length);
  if (spec.flavor === "gemini" && c.var.tenant.mode === "managed") url.searchParams.delete("key");
  return `${c.var.config.upstreams[spec.flavor].baseUrl}${path}${url.search}`;
}

/** Model and streaming as most wire formats carry them: in the body. */
function bodyFacts(body: Record<string, unknown>): { model: string; stream: boolean } {
  return { model: body.model as string, stream: body.stream === true };
}

/** The request header with which a client asks for `x-stoker-cache` on a non-streaming answer (README). */
export const USAGE_HEADER_OPT_IN = "x-stoker-usage";

/**
 * Dev clock only (local development, tests): a request with this header waits for the tracker's lookup when
 * the isolate has nothing fresh, so a replay on the shared clock sees the tracker's state (deploys never wait).
 */
export const DEV_AWAIT_TRACKER = "x-stoker-dev-await-tracker";

/** Endpoints whose conversations grow by messages: their bodies are parsed after the last turn's. */
const MEMO_ENDPOINTS: ReadonlySet<string> = new Set(["messages", "chat.completions"]);

/** One handler for every proxied endpoint: authenticate, read, validate, forward, stream back, account. */
export function proxy(spec: EndpointSpec) {
  return async function proxyHandler(c: Context<AppEnv>): Promise<Response> {
    const { config, requestId } = c.var;
    const tenant = c.var.tenant;
    // Over the analysis budget in bytes the body is never decoded or parsed whole: its top level is read
    // from the bytes, which go upstream as they came (`read.raw` is null).
    // A conversation's later turn parses only what its last turn did not have (edge/body-memo.ts).
    const memoTenant = MEMO_ENDPOINTS.has(spec.endpoint) ? tenant.id : undefined;
    const read = await readRequestBody(c.req.raw, config.maxBodyBytes, config.analysisMaxBytes, memoTenant);
    const { raw, body } = read;
    spec.validate(body);
    // A valid body, kept for the next turn once the request has gone upstream (laid out from the render's scan).
    if (memoTenant !== undefined && raw !== null && !read.parsedAfterKept)
      afterThisTurn(c, "keep-body", () => keepParsed(memoTenant, read.bytes, raw, body));
    // Read after a kept body (edge/body-memo.ts) and long (SPLIT_MIN_CHARS), its text is the kept one's
    // head and the new rest, joined but not flat: the next turn reads it flat, made so once the answer is
    // out (a copy of the whole body, 1 ms at 100K tokens on the benchmark machine), so that it delays neither
    // this request's body on its way upstream (the runtime sends it between JavaScript turns) nor its answer.
    const flattenLater = read.raw !== null && read.scanHint?.parts ? () => flattenJoined(read.raw) : null;
    const { model, stream } = spec.facts ? spec.facts(body, new URL(c.req.url)) : bodyFacts(body);
    const info = spec.compat
      ? compatModelInfo(spec.compat, model)
      : modelInfo(model, config.models, spec.flavor);
    c.set("model", info);
    // Under the deploy's shared OpenAI key, stored-object ids must be ones Stoker gave this tenant (stored-ids.ts).
    const idTagsFor =
      spec.flavor === "openai" && tenant.mode === "managed" && tenant.providerKeys.openai === undefined
        ? idTags(tenantSalt(config, tenant.id))
        : null;
    const previousResponseId = idTagsFor
      ? checkStoredIds(
          body,
          read.bytes,
          raw !== null,
          idTagsFor,
          spec.endpoint === "responses",
          read.raw !== null ? read.repeats : undefined,
        )
      : null;

    const startedAt = Date.now();
    // The request's time on the shared clock (plans, beliefs, the record); latencies use the wall clock.
    const at = now();
    const over = raw === null ? "bytes" : overAnalysisBudget(raw, body, config.analysisMaxBytes);
    const awaitMs =
      config.devClock && c.req.header(DEV_AWAIT_TRACKER) !== undefined ? config.trackerDeadlineMs : 0;
    const prepared = await (over ? skipAnalysis : prepare)({
      endpoint: spec.endpoint,
      raw: raw ?? "",
      body,
      tenantId: tenant.id,
      tenantRules: tenant.canonicalize,
      settings: tenant.cache,
      config,
      canonicalizeHeader: c.req.header("x-stoker-canonicalize") ?? null,
      model: info,
      modelId: model,
      nowMs: at,
      memo: analysisMemo(tenant.id),
      ...(read.raw !== null && read.scanHint ? { scanHint: read.scanHint } : {}),
      ...(read.raw !== null && read.sharedWith ? { sharedWith: read.sharedWith } : {}),
      lookup: (hashes, scope) =>
        planLookup(
          {
            env: c.env,
            tenantId: tenant.id,
            nowMs: at,
            log: c.var.log,
            waitUntil: (p) => c.executionCtx.waitUntil(p),
            awaitMs,
            sharedWaitMs: config.sharedAnswersWaitMs,
          },
          hashes,
          scope,
        ),
      log: c.var.log,
      compat: spec.compat?.name,
      // A lookup that asks the tracker needs every hash.
      defer: awaitMs === 0,
    });
    // The render's scan of this text, for the next turn read after it.
    if (memoTenant !== undefined && prepared.rendered?.spans) noteScan(body, prepared.rendered.spans);
    let outBody: string | Uint8Array = read.raw === null ? read.bytes : prepared.body;
    // While the body is still the rendered one (`rendered`, undone by any other edit), a field Stoker adds
    // goes first in the same join (`lead`), and what goes upstream is built as bytes from the client's own:
    // editing the text instead would copy the whole body, and sending it would encode it again (apply.ts).
    let rendered = read.raw === null ? undefined : prepared.rendered;
    let lead: string | undefined;
    const leading = (r: RenderedBody, field: string): string => {
      lead = field;
      return r.withLeadingField(field);
    };
    if (previousResponseId !== null) {
      rendered = undefined;
      const id = JSON.stringify(previousResponseId);
      const span = (read as BytesBody).spans?.get("previous_response_id");
      outBody =
        typeof outBody === "string"
          ? untagBody(outBody, previousResponseId)
          : span
            ? splice(outBody, span, id)
            : outBody;
    }
    let hideUsage = false;
    // An upstream whose streams always end with usage (OpenRouter) is sent and relayed as the client wrote it.
    const asksStreamUsage = spec.compat?.streamUsage !== "always";
    if (spec.endpoint === "chat.completions" && stream && asksStreamUsage && !clientWantsStreamUsage(body)) {
      outBody =
        typeof outBody === "string"
          ? rendered && !("stream_options" in body)
            ? leading(rendered, STREAM_USAGE_FIELD)
            : requestStreamUsage(outBody, body)
          : requestStreamUsageBytes(read as BytesBody);
      if (lead === undefined) rendered = undefined;
      hideUsage = true;
    }

    const base = {
      requestId,
      tenantId: tenant.id,
      upstream: spec.compat ? (`compat:${spec.compat.name}` as const) : spec.flavor,
      endpoint: spec.endpoint,
      model,
      stream,
    };
    // Gemini explicit caches (gemini-explicit.ts): planned below, once the upstream headers are known.
    let explicit: ExplicitPlan | null = null;
    let planText = prepared.planText;
    // The bytes sent upstream, when they are the captured body (with at most the cache diagnostics Stoker
    // asked for, which pings drop): the record carries them, not the text, which it would first make flat.
    let sentBytes: Uint8Array | undefined;
    const finish = (status: number, result: Result, rest: Partial<Outcome> = {}) => {
      const wall = Date.now();
      const outcome: Outcome = {
        ...base,
        status,
        result,
        usage: null,
        startedAt: at,
        headersMs: wall - startedAt,
        ttfbMs: wall - startedAt,
        durationMs: wall - startedAt,
        plan: planText,
        ...rest,
      };
      const captured = capture && sentBytes ? { ...capture, body: sentBytes } : capture;
      recordOutcome(c, outcome, prepared, result === "ok" ? captured : null);
      if (flattenLater) afterThisTurn(c, "flatten-body", flattenLater);
      if (explicit) c.executionCtx.waitUntil(explicit.after(outcome.usage, result === "ok").catch(() => {}));
    };

    const url = upstreamUrl(c, spec);
    // Bedrock: a Bearer key like the other providers, or AWS credentials that sign the request just before it goes.
    const bedrock =
      spec.flavor === "bedrock" && tenant.mode === "managed" ? bedrockUpstream(tenant, config) : null;
    const upstreamHeaders = upstreamRequestHeaders(
      c.req.raw.headers,
      bedrock ? bedrock.credential : credentialFor(tenant, spec, config),
    );
    // A compat upstream that routes by a header (xAI): the family's key when the client sent none (README).
    const route = spec.compat?.routeHeader;
    if (route && prepared.analysis && !tenant.cache.disabled && !upstreamHeaders.has(route)) {
      upstreamHeaders.set(route, `stk-${prepared.analysis.family.slice(0, 16)}`);
      planText = `compat ${route}=stk-${prepared.analysis.family.slice(0, 16)}`;
    }
    // Only managed tenants can be pinged: Stoker holds their provider key, never a pass-through one.
    const pingable = spec.pingable !== false;
    const capture =
      pingable && tenant.mode === "managed" && config.keepalive.enabled && typeof outBody === "string"
        ? keepaliveCapture(
            prepared,
            outBody,
            upstreamHeaders,
            url.slice(config.upstreams[spec.flavor].baseUrl.length),
          )
        : null;
    if (config.devClock) upstreamHeaders.set(SIM_NOW_HEADER, String(at));
    if (spec.endpoint === "generate_content" && typeof outBody === "string") {
      explicit = planExplicit({
        env: c.env,
        config,
        tenant,
        analysis: prepared.analysis,
        canonical: outBody,
        model,
        info,
        nowMs: at,
        headers: upstreamHeaders,
        requestId,
        log: c.var.log,
      });
      if (explicit?.body) {
        outBody = explicit.body;
        rendered = undefined;
      }
      if (explicit?.text) planText = explicit.text;
    }
    // Cache diagnostics: asked for on the client's behalf only when it did not ask itself (README), only with
    // Stoker's own provider key (in pass-through the organization, and its data retention, are the client's),
    // and only for a prompt Stoker analyzed (not a server-held thread turn); keepalive pings replay without.
    const askedForClient =
      config.cacheDiagnostics &&
      tenant.mode === "managed" &&
      spec.endpoint === "messages" &&
      prepared.analysis?.upstream === "anthropic" &&
      !("diagnostics" in body);
    let sentBody = outBody;
    if (askedForClient && typeof outBody === "string") {
      if (rendered && lead === undefined)
        sentBody = leading(rendered, diagnosticsField(prepared.previousMessageId ?? null));
      else {
        sentBody = askDiagnostics(outBody, prepared.previousMessageId ?? null);
        rendered = undefined;
      }
    }
    if (rendered) sentBody = rendered.bytes(read.bytes, lead) ?? sentBody;
    if (capture && typeof sentBody !== "string" && sentBody.length <= MAX_CAPTURE_BYTES) sentBytes = sentBody;
    if (bedrock?.auth?.kind === "sigv4")
      await signBedrock(url, upstreamHeaders, sentBody, bedrock.auth.aws, config.bedrock.region);
    // A client that left before the answer's headers (its signal aborts the call) is accounted as cancelled
    // (499, as proxies log it), not as an upstream fault.
    const forwardFailed = (err: unknown): unknown => {
      if (err instanceof StokerError) {
        if (c.req.raw.signal.aborted) finish(499, "client_cancelled");
        else finish(err.status, err.status === 504 ? "timeout" : "unreachable");
      }
      return err;
    };
    let upstream: Response;
    try {
      upstream = await forward({
        url,
        headers: upstreamHeaders,
        body: sentBody,
        timeoutMs: config.upstreamTimeoutMs,
        signal: c.req.raw.signal,
      });
    } catch (err) {
      throw forwardFailed(err);
    }
    // A cache that vanished upstream (expired early, deleted) must not fail the request: send it as it was.
    if (explicit?.body && !upstream.ok && [400, 403, 404].includes(upstream.status)) {
      c.var.log.warn("engine.fault", { op: "gemini_cached_request", status: upstream.status });
      await upstream.body?.cancel();
      explicit.vanished();
      explicit = null;
      planText = prepared.planText;
      try {
        upstream = await forward({
          url,
          headers: upstreamHeaders,
          body: prepared.body,
          timeoutMs: config.upstreamTimeoutMs,
          signal: c.req.raw.signal,
        });
      } catch (err) {
        throw forwardFailed(err);
      }
    }
    const headersMs = Date.now() - startedAt;
    const headers = clientResponseHeaders(upstream.headers);
    headers.set("x-stoker-request-id", requestId);
    if (config.simulator) headers.set("x-stoker-upstream", "simulator");
    if (planText) headers.set("x-stoker-plan", planText);
    if (over) headers.set("x-stoker-analysis", `skipped-over-budget-${over}`);

    const tagIds = spec.endpoint === "responses" ? idTagsFor : null;
    return relay({
      upstream,
      headers,
      startedAt,
      headersMs,
      spec,
      source: "The upstream",
      rewriteEvent: hideUsage
        ? hideStreamUsage
        : askedForClient
          ? hideStreamDiagnostics
          : tagIds
            ? (e) => tagResponseEvent(e, tagIds)
            : undefined,
      rewriteText: askedForClient ? hideDiagnostics : tagIds ? (t) => tagResponseText(t, tagIds) : undefined,
      // A JSON answer flows as it arrives (its ids tagged on the way) unless the client asked for the usage
      // header (README).
      streamJson:
        c.req.header(USAGE_HEADER_OPT_IN) === "header"
          ? undefined
          : {
              hideDiagnostics: askedForClient,
              replaceTopLevel: tagIds ? taggedTopLevel(tagIds) : undefined,
              waitUntil: (p) => c.executionCtx.waitUntil(p),
            },
      jsonFacts: spec.flavor === "anthropic" ? messageFacts : undefined,
      clientSignal: c.req.raw.signal,
      // The accounting (a JSON answer parsed, the log line, the record's scheduling) on a later turn: the
      // answer's last byte never waits for it.
      later: (work) => afterThisTurn(c, "finish", work),
      onEnd: (e) =>
        finish(e.status, e.result, {
          usage: e.usage,
          headersMs: e.headersMs,
          ttfbMs: e.ttfbMs,
          durationMs: e.durationMs,
          message: e.message,
          answer: e.answer,
        }),
    });
  };
}

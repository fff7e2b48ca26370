import { SIM_NOW_HEADER } from "../core/clock.ts";
import type { Config } from "../core/config.ts";
import type { Provider, ProviderKeyName } from "../core/provider.ts";
import { emptyOwn } from "../decide/gaps.ts";
import { decideKeepalive } from "../decide/keepalive.ts";
import { type KeepaliveSettings, pingLeadMs } from "../decide/keepalive-settings.ts";
import { readChance } from "../decide/ping-reads.ts";
import type { WriteTtl } from "../economics/breakEven.ts";
import { costOfUsage, costWithoutCache } from "../economics/cost.ts";
import { modelInfo } from "../economics/models.ts";
import {
  anthropicPingBody,
  bedrockInvokePingBody,
  conversePingBody,
  openAIChatPingBody,
  openAIResponsesPingBody,
} from "../keepalive/ping-body.ts";
import type { PingRequest, PingResult } from "../keepalive/pinger.ts";
import type { SegmentLoc } from "../prefix/types.ts";
import { type BedrockAuth, parseBedrockKey } from "../upstream/bedrock-auth.ts";
import type { Conversations } from "./conversation-state.ts";
import type { KeepaliveCandidates, KeepaliveRow } from "./keepalive-store.ts";
import type { CaptureBody, KeepaliveReport, RecordRequest } from "./types.ts";

/** What a sealed capture holds. */
export interface SealedRequest {
  path: string;
  headers: [string, string][];
  body: string;
  loc: SegmentLoc;
}

/** Marks the framed layout of a sealed request: this line, the JSON of everything but the body, then the body. */
const FRAMED = "stoker-request/2\n";

const utf8 = new TextEncoder();

/**
 * The plaintext a keepalive request is sealed as, in UTF-8. The body (JSON, as bytes or text, up to 1.8 MB)
 * follows a one-line JSON header as it is, rather than as a JSON string inside the header, which would
 * escape every quote of it on each record and unescape it again on each ping. Encoded straight into one
 * buffer: joining header and body first would copy the body into a new string, then encode it again.
 */
export function encodeSealedRequest(r: Omit<SealedRequest, "body"> & { body: CaptureBody }): Uint8Array {
  const head = utf8.encode(`${FRAMED}${JSON.stringify({ path: r.path, headers: r.headers, loc: r.loc })}\n`);
  // Most bodies are ASCII (the SDKs escape the rest): as many bytes as characters.
  const out = new Uint8Array(head.byteLength + r.body.length);
  out.set(head);
  // The bytes the edge sent: as they are.
  if (typeof r.body !== "string") {
    out.set(r.body, head.byteLength);
    return out;
  }
  // Every character written in as many bytes: the buffer is exactly full.
  if (utf8.encodeInto(r.body, out.subarray(head.byteLength)).read === r.body.length) return out;
  const body = utf8.encode(r.body);
  const whole = new Uint8Array(head.byteLength + body.byteLength);
  whole.set(head);
  whole.set(body, head.byteLength);
  return whole;
}

/** Reads what `encodeSealedRequest` wrote, and the older layout (one JSON object with the body inside). */
export function decodeSealedRequest(text: string): SealedRequest {
  if (!text.startsWith(FRAMED)) return JSON.parse(text) as SealedRequest;
  // JSON text has no raw line breaks, so the header ends at the first one after the marker.
  const end = text.indexOf("\n", FRAMED.length);
  if (end < 0) throw new Error("sealed request without a body");
  const head = JSON.parse(text.slice(FRAMED.length, end)) as Omit<SealedRequest, "body">;
  return { path: head.path, headers: head.headers, loc: head.loc, body: text.slice(end + 1) };
}

/**
 * What a sweep reads and writes. The rules are here once; the I/O is the caller's: the Tracker passes its
 * SQLite stores, the sealed-row decryption and `sendPing`; the economics replay passes memory stores and the
 * simulator's app in process.
 */
export interface RunDeps {
  tenantId: string;
  config: Config;
  settings: KeepaliveSettings;
  store: KeepaliveCandidates;
  conversations: Conversations;
  /** The tenant's own provider keys (admin API); the deploy's keys stand in where one is missing. */
  apiKeys: Partial<Record<ProviderKeyName, string>>;
  /** Providers whose own key is broken or unknown: no ping, and never the deploy's key instead. */
  refusedProviders: readonly ProviderKeyName[];
  /** The tenant was revoked or deleted (or its directory is unreachable): every ping stops. */
  inactive?: boolean;
  /** The captured request of a row. */
  open(row: KeepaliveRow): Promise<SealedRequest>;
  send(ping: PingRequest): Promise<PingResult>;
  /** Accounts the ping like any request (idempotent by request id). */
  account(record: RecordRequest): void;
  /** The ping read the entry: the prefix is believed cached until `cachedUntil`. */
  refreshed(hash: string, cachedUntil: number, nowMs: number): void;
  /** Wall time, for the ping's latency figures only. */
  clock(): number;
}

const PING_TIMEOUT_MS = 30_000;

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

type Pinged = Extract<Provider, "anthropic" | "openai" | "bedrock">;

/** The provider a row's pings go to: its own (a Bedrock row through Bedrock, never Anthropic's API). */
const providerOf = (row: KeepaliveRow): Pinged =>
  row.upstream === "openai" || row.upstream === "bedrock" ? row.upstream : "anthropic";

/** Bedrock's credential for a ping, in the edge's order: the tenant's own, the deploy's API key, its AWS keys. */
function bedrockAuth(deps: RunDeps): BedrockAuth | null {
  const own = deps.apiKeys.bedrock;
  if (own !== undefined) return parseBedrockKey(own);
  const key = deps.config.upstreams.bedrock.apiKey;
  if (key) return { kind: "bearer", token: key };
  return deps.config.bedrock.aws ? { kind: "sigv4", aws: deps.config.bedrock.aws } : null;
}

/** A sweep that did nothing. */
export function emptyReport(): KeepaliveReport {
  return { due: 0, pinged: 0, refreshed: 0, gone: 0, stopped: 0, skipped: 0, costUsd: 0 };
}

/**
 * One keepalive sweep of a tenant: for each entry about to lapse, the policy decides; a ping is claimed
 * (one per deadline, whoever runs first, cron or alarm), sent, read and accounted; 429/5xx end the entry's
 * pings (no retry loop); a ping that finds no entry ends them too. Batch-limited by `limit`.
 */
export async function runKeepalive(deps: RunDeps, nowMs: number, limit: number): Promise<KeepaliveReport> {
  const { store, config, settings } = deps;
  const report = emptyReport();
  deps.conversations.sweep(nowMs);
  store.expire(nowMs);
  const due = store.due(nowMs, pingLeadMs(config.keepalive.anthropicTtlMs), limit);
  report.due = due.length;
  if (due.length === 0) return report;
  if (!config.keepalive.enabled || !settings.enabled) {
    for (const row of due)
      store.end(row.conversation, "stopped", config.keepalive.enabled ? "disabled" : "kill-switch");
    report.stopped = due.length;
    return report;
  }
  for (const row of due) {
    const provider = providerOf(row);
    if (deps.refusedProviders.includes(provider)) {
      store.end(row.conversation, "stopped", deps.inactive ? "tenant-inactive" : "own-key-unusable");
      report.stopped++;
      continue;
    }
    const keyed =
      provider === "bedrock"
        ? bedrockAuth(deps) !== null
        : !!(deps.apiKeys[provider] ?? config.upstreams[provider].apiKey);
    if (!keyed && !config.simulator) {
      // Pings use the deploy's managed key; without one there is nothing to ping with.
      store.end(row.conversation, "stopped", "no-key");
      report.stopped++;
      continue;
    }
    const outcome = await pingOne(deps, row, nowMs);
    report[outcome.kind]++;
    report.costUsd += outcome.costUsd;
    if (outcome.kind === "refreshed" || outcome.kind === "gone") report.pinged++;
  }
  return report;
}

type One = { kind: "refreshed" | "gone" | "stopped" | "skipped"; costUsd: number };

async function pingOne(deps: RunDeps, row: KeepaliveRow, nowMs: number): Promise<One> {
  const { store, conversations, config, settings } = deps;
  const provider = providerOf(row);
  const upstream = config.upstreams[provider];
  const model = modelInfo(row.model, config.models, provider);
  const ttl: WriteTtl = row.ttl === "1h" ? "1h" : "5m";
  const gaps = conversations.history(row.conversation) ?? { turns: 1, own: emptyOwn(), family: null };
  const decision = decideKeepalive(
    {
      tokens: row.tokens,
      exposedTokens: row.exposed ?? undefined,
      ttl,
      lastUseMs: row.last_use,
      pingsSoFar: row.pings,
      readChance: readChance(store.pingReads(provider)),
      lapseMs: row.cached_until,
    },
    gaps,
    nowMs,
    model,
    settings,
    store.spentOn(day(nowMs)),
    config.keepalive.anthropicTtlMs,
  );
  if (!decision.ping) {
    // Out of budget today: leave it be (it may lapse); anything else is the policy's stop.
    if (decision.reason === "budget") return { kind: "skipped", costUsd: 0 };
    store.end(row.conversation, "stopped", decision.reason);
    return { kind: "stopped", costUsd: 0 };
  }
  if (!row.iv || !row.sealed) {
    // The edge held the request back and it never came (its isolate ended first): nothing to ping with.
    store.end(row.conversation, "stopped", "no-request");
    return { kind: "stopped", costUsd: 0 };
  }
  if (!store.claim(row)) return { kind: "skipped", costUsd: 0 };

  const sealed = await deps.open(row);
  const forwarded = JSON.parse(sealed.body) as Record<string, unknown>;
  const endpoint =
    provider === "anthropic"
      ? "messages"
      : provider === "bedrock"
        ? /\/converse(-stream)?$/.test(sealed.path)
          ? "converse"
          : "invoke"
        : sealed.path.startsWith("/v1/responses")
          ? "responses"
          : "chat.completions";
  const ping =
    endpoint === "messages"
      ? anthropicPingBody(forwarded, sealed.loc)
      : endpoint === "converse"
        ? conversePingBody(forwarded, sealed.loc)
        : endpoint === "invoke"
          ? bedrockInvokePingBody(forwarded, sealed.loc)
          : endpoint === "responses"
            ? openAIResponsesPingBody(forwarded)
            : openAIChatPingBody(forwarded);
  // Bedrock: the ping is the stream operation's plain twin, with the credential the edge would use.
  const path =
    provider === "bedrock"
      ? sealed.path
          .replace(/\/converse-stream$/, "/converse")
          .replace(/\/invoke-with-response-stream$/, "/invoke")
      : sealed.path;
  const auth = provider === "bedrock" ? bedrockAuth(deps) : null;
  // A ping that must generate (thinking, forced tool) also pays output: it must still be worth it.
  const outputUsd = (ping.maxOutputTokens * model.outputPerMTok) / 1e6;
  if (outputUsd > 0 && decision.expectedValue <= outputUsd) {
    store.end(row.conversation, "stopped", `fallback-${ping.fallback}-does-not-pay`);
    return { kind: "stopped", costUsd: 0 };
  }
  const started = deps.clock();
  const result = await deps.send({
    upstream: provider,
    endpoint,
    url: `${upstream.baseUrl}${path}`,
    headers: config.devClock ? [...sealed.headers, [SIM_NOW_HEADER, String(nowMs)]] : sealed.headers,
    body: JSON.stringify(ping.body),
    apiKey:
      provider === "bedrock"
        ? auth?.kind === "bearer"
          ? auth.token
          : undefined
        : (deps.apiKeys[provider] ?? upstream.apiKey),
    ...(auth?.kind === "sigv4" ? { aws: { credentials: auth.aws, region: config.bedrock.region } } : {}),
    timeoutMs: PING_TIMEOUT_MS,
  });
  const requestId = `ping_${row.conversation.slice(0, 12)}_${row.cached_until}`;
  const base = {
    tenantId: deps.tenantId,
    requestId,
    at: nowMs,
    upstream: provider,
    endpoint,
    model: row.model,
    stream: false,
    keepalive: true,
    ttfbMs: deps.clock() - started,
    durationMs: deps.clock() - started,
    plan: ping.fallback
      ? `keepalive fallback=${ping.fallback}`
      : `keepalive ${endpoint === "messages" ? "prewarm" : "1-token"}`,
    family: null,
    conversation: null,
    estimatedTokens: 0,
    positions: [],
    chain: null,
    pricing: { inputPerToken: model.inputPerMTok / 1e6, cacheRead: model.cacheRead },
    capture: null,
  };
  if (result.kind !== "ok") {
    const status = result.kind === "rejected" ? result.status : 502;
    deps.account({
      ...base,
      status,
      result: "upstream_error",
      usage: null,
      costUsd: 0,
      costWithoutCacheUsd: 0,
    });
    // Back off: no retry for this deadline; the entry lapses and a real request rewrites it.
    store.end(row.conversation, "stopped", `upstream-${status}`);
    return { kind: "stopped", costUsd: 0 };
  }
  const costUsd = costOfUsage(model, result.usage);
  deps.account({
    ...base,
    status: result.status,
    result: "ok",
    usage: result.usage,
    costUsd,
    costWithoutCacheUsd: costWithoutCache(model, result.usage),
  });
  store.addSpend(day(nowMs), costUsd);
  store.notePingRead(provider, result.usage.cacheReadTokens > 0);
  if (result.usage.cacheReadTokens === 0) {
    store.end(row.conversation, "gone", "ping-found-no-entry");
    return { kind: "gone", costUsd };
  }
  const ttlMs = ttl === "1h" ? 3_600_000 : config.keepalive.anthropicTtlMs;
  store.refreshed(row.conversation, nowMs + ttlMs);
  deps.refreshed(row.hash, nowMs + ttlMs, nowMs);
  return { kind: "refreshed", costUsd };
}

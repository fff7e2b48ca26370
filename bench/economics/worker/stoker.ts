import { type Config, parseConfig } from "../../../src/core/config.ts";
import type { Logger } from "../../../src/core/log.ts";
import {
  DEFAULT_KEEPALIVE,
  type KeepaliveSettings,
  pingLeadMs,
} from "../../../src/decide/keepalive-settings.ts";
import { analysisMemo } from "../../../src/edge/analysis-memo.ts";
import { keepaliveCapture } from "../../../src/edge/capture.ts";
import { prepare } from "../../../src/edge/prepare.ts";
import { toRecord } from "../../../src/edge/record.ts";
import { sendPing } from "../../../src/keepalive/pinger.ts";
import { type CacheSettings, DEFAULT_CACHE_SETTINGS } from "../../../src/plan/settings.ts";
import type { Calibration } from "../../../src/prefix/tokens.ts";
import { Conversations } from "../../../src/tracker/conversation-state.ts";
import {
  decodeSealedRequest,
  encodeSealedRequest,
  runKeepalive,
} from "../../../src/tracker/keepalive-run.ts";
import {
  MemoryConversationStore,
  MemoryKeepaliveStore,
  MemoryPlanInputStore,
  MemoryPrefixStore,
} from "../../../src/tracker/memory.ts";
import { planFacts } from "../../../src/tracker/plan-inputs.ts";
import {
  captureWorthKeeping,
  type DecisionState,
  recordDecisionState,
} from "../../../src/tracker/record-state.ts";
import { validateRecord } from "../../../src/tracker/validate.ts";
import type { Endpoint } from "../../../src/upstream/outcome.ts";
import type { Usage } from "../../../src/upstream/usage.ts";
import type { ReplayResult } from "../engine.ts";
import type { Trace, TraceRequest } from "../trace.ts";
import { anthropicBody, type Mapping, openAIChatBody } from "./bodies.ts";
import { ReplayProvider } from "./provider.ts";

/**
 * Stoker's row of the economics replay: every trace request goes through the worker's own path, in process,
 * with nothing modelled: `prepare` (canonicalize -> chain -> the decision core -> plan -> render) with the
 * tenant's state from the Tracker's pure state updates over memory stores, the rendered body to the project's
 * simulator (the same cache rules the tests run against), the usage turned into the worker's record
 * (`toRecord`, `validateRecord`), and keepalive by the Tracker's own sweep (`runKeepalive`: the decision
 * core, the real ping builder, `sendPing`) at each deadline, pings charged like any request.
 */

export type ReplayApi = "anthropic" | "openai";

/** What a tenant has learned, as opposed to what it holds: its survival tables and token calibration. */
export interface LearnedTables {
  survival: ReadonlyMap<string, Uint8Array>;
  calibrations: ReadonlyMap<string, Calibration>;
}

/** The tables a replay's tenant learned (`onDone`'s state), to start another replay from. */
export function learnedTables(state: DecisionState): LearnedTables {
  const store = state.conversations.store;
  if (!(store instanceof MemoryConversationStore) || !(state.planInputs instanceof MemoryPlanInputStore))
    throw new Error("bench/economics: learnedTables reads a replay's memory stores");
  return { survival: store.tables(), calibrations: state.planInputs.calibrations() };
}

export interface WorkerReplayOptions {
  api: ReplayApi;
  mapping: Mapping;
  /** A model id both the simulator and Stoker's table know. */
  model: string;
  /** Head blocks when a request does not say (Mooncake: 1). */
  headFallback?: number;
  /** The tenant's keepalive settings (defaults otherwise). */
  keepalive?: Partial<KeepaliveSettings>;
  /** The tenant's cache settings (defaults otherwise). */
  cache?: Partial<CacheSettings>;
  /** Called after each trace request with what the worker would have put in `x-stoker-plan`. */
  onRequest?: (req: TraceRequest, planText: string | null, usage: Usage | null) => void;
  name?: string;
  /** Called at the end with the tenant's decision state (what the fitting of the priors reads). */
  onDone?: (state: DecisionState) => void;
  /**
   * Start from what another replay's tenant learned (`learnedTables`): its survival tables and token
   * calibration, with no prefix, conversation, keepalive candidate or cache entry of its.
   */
  tables?: LearnedTables;
  /** The tenant the replay runs as (its id salts the chain hashes and OpenAI keys). */
  tenantId?: string;
  /**
   * Pass on how each answer ended (default true: as the trace says, else as the simulator's answer says;
   * false: as from an upstream that does not say, what the signal is worth).
   */
  answers?: boolean;
}

const SWEEP_LIMIT = 50;
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} } as unknown as Logger;

/** The deploy the replay runs as: the simulator as upstream, keys that the simulator accepts. */
function replayConfig(): Config {
  return parseConfig({
    STOKER_SIMULATOR: "1",
    ANTHROPIC_UPSTREAM_URL: "http://simulator/anthropic",
    OPENAI_UPSTREAM_URL: "http://simulator/openai",
    ANTHROPIC_API_KEY: "replay",
    OPENAI_API_KEY: "replay",
    LOG_LEVEL: "error",
  } as unknown as Env);
}

const ROUTES: Record<ReplayApi, { path: string; endpoint: Endpoint; headers: Record<string, string> }> = {
  anthropic: { path: "/v1/messages", endpoint: "messages", headers: { "anthropic-version": "2023-06-01" } },
  openai: { path: "/v1/chat/completions", endpoint: "chat.completions", headers: {} },
};

/** Replays a trace through the worker's path; the result has the engine's shape, for the report. */
export async function replayWorker(trace: Trace, opts: WorkerReplayOptions): Promise<ReplayResult> {
  const config = replayConfig();
  const tenantId = opts.tenantId ?? "replay";
  const route = ROUTES[opts.api];
  const { modelInfo } = await import("../../../src/economics/models.ts");
  const provider = new ReplayProvider(modelInfo(opts.model, config.models, opts.api), trace.requests.length);
  const settings: KeepaliveSettings = { ...DEFAULT_KEEPALIVE, ...opts.keepalive };
  const prefixes = new MemoryPrefixStore();
  const conversations = new Conversations(
    new MemoryConversationStore(opts.tables?.survival),
    config.keepalive.anthropicTtlMs,
  );
  const keepalive = new MemoryKeepaliveStore();
  const planInputs = new MemoryPlanInputStore();
  for (const [model, c] of opts.tables?.calibrations ?? []) planInputs.setCalibration(model, c);
  const state: DecisionState = { prefixes, conversations, keepalive, planInputs };
  const cacheSettings: CacheSettings = { ...DEFAULT_CACHE_SETTINGS, ...opts.cache };
  const decoder = new TextDecoder();

  const deps = {
    tenantId,
    config,
    settings,
    store: keepalive,
    conversations,
    apiKeys: {},
    refusedProviders: [],
    open: async (row: { sealed: ArrayBuffer | null }) =>
      decodeSealedRequest(decoder.decode(row.sealed ?? new ArrayBuffer(0))),
    send: (ping: Parameters<typeof sendPing>[0]) => sendPing(ping, provider.fetch),
    account: (r: { usage: Usage | null; keepalive: boolean }) => {
      if (r.keepalive) provider.chargePing(r.usage);
    },
    refreshed: (hash: string, cachedUntil: number) => prefixes.refreshed(hash, cachedUntil),
    clock: () => provider.now,
  };

  // The Tracker's alarm: set for the next deadline less the lead; a sweep that leaves the same deadline due
  // (a skipped ping) is retried a second later, as a re-armed alarm would be.
  let lastSweep = Number.NEGATIVE_INFINITY;
  const sweepUntil = async (t: number): Promise<void> => {
    for (;;) {
      const next = keepalive.nextDeadline();
      if (next === null) return;
      const wake = Math.max(next - pingLeadMs(config.keepalive.anthropicTtlMs), lastSweep + 1000);
      if (wake >= t) return;
      provider.now = wake;
      lastSweep = wake;
      await runKeepalive(deps, wake, SWEEP_LIMIT);
    }
  };

  for (const [j, req] of trace.requests.entries()) {
    const t = req.atMs;
    await sweepUntil(t);
    provider.now = t;
    const body =
      opts.api === "anthropic"
        ? anthropicBody(trace, req, opts.mapping, opts.model, opts.headFallback)
        : openAIChatBody(trace, req, opts.mapping, opts.model, opts.headFallback);
    const raw = JSON.stringify(body);
    const prepared = await prepare({
      endpoint: route.endpoint,
      raw,
      body,
      tenantId,
      tenantRules: {},
      settings: cacheSettings,
      config,
      canonicalizeHeader: null,
      nowMs: t,
      memo: analysisMemo(tenantId),
      // What the Tracker's lookup answers with a scope: the states, the family's rate, the calibration.
      lookup: async (hashes, scope) => ({
        known: new Map(Object.entries(prefixes.lookup(hashes, t))),
        ...planFacts(planInputs, scope, t),
        outlook: conversations.outlook(scope.conversation, scope.family, t),
      }),
      log: silent,
    });
    const { usage, answer } = await provider.send(`/${opts.api}${route.path}`, prepared.body, route.headers);
    provider.chargeRequest(j, usage);
    opts.onRequest?.(req, prepared.planText, usage);
    const headers = new Headers({ "content-type": "application/json", ...route.headers });
    const capture = keepaliveCapture(prepared, prepared.body, headers, route.path);
    const record = validateRecord(
      toRecord(
        {
          requestId: `replay-${req.index}`,
          tenantId,
          upstream: opts.api,
          endpoint: route.endpoint,
          model: opts.model,
          stream: false,
          status: 200,
          result: "ok",
          usage,
          startedAt: t,
          headersMs: 0,
          ttfbMs: 0,
          durationMs: 0,
          plan: prepared.planText,
          // Whether the model calls a tool is the workload's to say where it does (the simulator only
          // calls one when tool_choice forces it), else the simulator's answer says.
          answer: opts.answers === false ? null : (req.answer ?? answer),
        },
        prepared,
        capture,
        config.models,
      ),
    );
    // The replay's edge sends each capture with its record (no hold: nothing here supersedes one).
    const kept =
      captureWorthKeeping(conversations, record, config.keepalive.enabled && settings.enabled) && capture;
    const sealed = kept
      ? {
          capture: kept,
          sealed: {
            iv: new ArrayBuffer(0),
            data: encodeSealedRequest({
              path: kept.path,
              headers: kept.headers,
              body: kept.body,
              loc: kept.loc,
            }).buffer as ArrayBuffer,
          },
        }
      : null;
    recordDecisionState(state, record, config.keepalive.anthropicTtlMs, sealed, {});
  }
  await sweepUntil(trace.endMs);
  opts.onDone?.(state);
  return provider.result(opts.name ?? `Stoker (the worker's path, ${opts.mapping} mapping)`);
}

import { createHmac } from "node:crypto";
import { analyzeAnthropic } from "../canonicalize/anthropic.ts";
import { analyzeConverse } from "../canonicalize/converse.ts";
import { analyzeGemini } from "../canonicalize/gemini.ts";
import { heldByServer } from "../canonicalize/held.ts";
import { analyzeOpenAIChat } from "../canonicalize/openaiChat.ts";
import { analyzeOpenAIResponses } from "../canonicalize/openaiResponses.ts";
import type { AnalysisMemo } from "../canonicalize/resume.ts";
import { type CanonicalizeRules, parseCanonicalizeHeader, resolveRules } from "../canonicalize/rules.ts";
import type { Config } from "../core/config.ts";
import type { Logger } from "../core/log.ts";
import type { ModelInfo } from "../economics/models.ts";
import { planAnthropic } from "../plan/anthropic.ts";
import { type PlanLookup, type PlanScope, planContext } from "../plan/context.ts";
import { describePlan } from "../plan/describe.ts";
import { planOpenAI } from "../plan/openai.ts";
import type { CacheSettings } from "../plan/settings.ts";
import type { Plan } from "../plan/types.ts";
import type { Analysis, AnalyzeInput } from "../prefix/types.ts";
import type { PositionRecord } from "../tracker/types.ts";
import { isClaudeOnBedrock } from "../upstream/bedrock.ts";
import type { RenderedBody } from "../upstream/body/apply.ts";
import { renderConverse } from "../upstream/body/converse.ts";
import { renderAnthropicBody, renderGemini, renderOpenAIBody } from "../upstream/body/render.ts";
import type { ScanHint } from "../upstream/body/scan.ts";
import type { Endpoint } from "../upstream/outcome.ts";

/** The request Stoker forwards, and what it learned on the way. */
export interface Prepared {
  body: string;
  /** `body` as the render made it: it takes a leading field and turns into bytes without a copy of `body`. */
  rendered?: RenderedBody;
  analysis: Analysis | null;
  plan: Plan | null;
  /** Compact plan for `x-stoker-plan` and the accounting row. */
  planText: string | null;
  positions: PositionRecord[];
  /** The message id of the conversation's last answer, as the tracker (or this isolate) knows it. */
  previousMessageId?: string;
  /**
   * Planned from a deferred analysis (`Analysis.deferred`): the request's analysis with every hash, made
   * when the record needs it, after the answer (`settled`); null if that analysis failed.
   */
  hashLater?: () => Analysis | null;
}

/**
 * `prepared` with every position hashed: the same plan and body, the analysis made again without deferral
 * (its segments are the deferred one's, with hashes where it had placeholders, and it keeps the
 * conversation's checkpoint for the next turn). Fail-open: without an analysis if that one failed.
 */
export function settled(prepared: Prepared): Prepared {
  if (!prepared.hashLater) return prepared;
  const { hashLater: _, ...rest } = prepared;
  const analysis = prepared.hashLater();
  return analysis
    ? { ...rest, analysis, positions: positionsOf(analysis, prepared.plan) }
    : { ...rest, analysis: null, positions: [] };
}

const analyzers: Partial<Record<Endpoint, (input: AnalyzeInput, memo?: AnalysisMemo) => Analysis>> = {
  messages: analyzeAnthropic,
  // Bedrock InvokeModel for Claude: an Anthropic Messages body whose model is in the URL.
  invoke: (input) => analyzeAnthropic({ ...input, body: { ...input.body, model: input.modelId ?? "" } }),
  converse: analyzeConverse,
  "chat.completions": analyzeOpenAIChat,
  responses: analyzeOpenAIResponses,
  generate_content: analyzeGemini,
};

const salts = new Map<string, string>();
/** The isolate keeps at most this many tenants' salts (cleared past it, as the crypto key cache). */
const MAX_SALTS = 10_000;

/** Salts this isolate holds (tests). */
export const saltsCached = (): number => salts.size;

/** A per-tenant secret salt for h0, so tenants never share a chain hash or an OpenAI cache key. */
export function tenantSalt(config: Config, tenantId: string): string {
  const id = `${tenantId}\n${config.secret}`; // by secret too: one derived under another never serves
  let salt = salts.get(id);
  if (!salt) {
    salt = createHmac("sha256", config.secret).update(`salt:${tenantId}`).digest("base64url");
    if (salts.size >= MAX_SALTS) salts.clear();
    salts.set(id, salt);
  }
  return salt;
}

export interface PrepareInput {
  endpoint: Endpoint;
  raw: string;
  body: Record<string, unknown>;
  tenantId: string;
  /** The tenant's rules over the defaults; the request's header goes over these. */
  tenantRules: Partial<CanonicalizeRules>;
  /** The tenant's cache settings (1h writes, disabled, 24h retention). */
  settings: CacheSettings;
  /** The deploy's config: the salt's secret and the model table (`models`) planning prices with. */
  config: Config;
  canonicalizeHeader: string | null;
  /** The request's model row, looked up once (proxy.ts); the parts look it up themselves when absent. */
  model?: ModelInfo;
  /** The model's name when the body does not carry it (Gemini: in the URL). */
  modelId?: string;
  nowMs: number;
  /**
   * What the tracker knows of the candidate hashes, the family's request rate and the model's calibration
   * (fail-open: may be empty). `scope` names the request's family, conversation and model.
   */
  lookup: (hashes: string[], scope: PlanScope) => Promise<PlanLookup>;
  log: Logger;
  /**
   * The compat upstream's name (`/compat/{name}`): its chain is salted apart from OpenAI's and every other
   * upstream's, and its request gets the canonical bytes only (its cache is automatic; docs/providers.md).
   */
  compat?: string;
  /** Checkpoints of the tenant's earlier turns (the worker's: its isolate's, edge/analysis-memo.ts). */
  memo?: AnalysisMemo;
  /** The render's scan of the kept body this one repeats (edge/body-memo.ts). */
  scanHint?: ScanHint;
  /** The kept body whose leading `messages` items this body's are (edge/body-memo.ts): `AnalyzeInput.sharedWith`. */
  sharedWith?: Record<string, unknown>;
  /**
   * Plan a conversation the isolate never analyzed before hashing what follows its key
   * (`AnalyzeInput.deferMessages`; the hashes are made after the answer, `settled`), unless the lookup says
   * the isolate has word of the conversation (`PlanLookup.heard`): no state of those positions can be known
   * otherwise. Not with a lookup that asks the tracker, which needs every hash.
   */
  defer?: boolean;
}

const unchanged = (raw: string): Prepared => ({
  body: raw,
  analysis: null,
  plan: null,
  planText: null,
  positions: [],
});

/**
 * Canonicalize -> prefix chain -> tracker lookup -> plan context (plan/context.ts) -> plan -> render. Any failure of these parts of Stoker
 * forwards the client's bytes unchanged (fail open) and is logged as a fault.
 */
export async function prepare(input: PrepareInput): Promise<Prepared> {
  const analyze = analyzers[input.endpoint];
  // A body that is only part of the prompt (the provider holds the rest) is forwarded as sent: no plan.
  if (!analyze || heldByServer(input.body)) return unchanged(input.raw);
  // Bedrock: only Claude models are planned (InvokeModel bodies are the model's own; other models' cache
  // points follow other rules).
  if (
    (input.endpoint === "invoke" || input.endpoint === "converse") &&
    !isClaudeOnBedrock(input.modelId ?? "")
  )
    return unchanged(input.raw);
  let rules: CanonicalizeRules;
  try {
    rules = resolveRules(input.tenantRules, parseCanonicalizeHeader(input.canonicalizeHeader).override);
  } catch (err) {
    input.log.warn("engine.fault", { op: "analyze", fault: err instanceof Error ? err.name : "unknown" });
    return unchanged(input.raw);
  }
  const analyzed = (deferMessages: boolean): Analysis | null => {
    try {
      return analyze(
        {
          raw: input.raw,
          body: input.body,
          ...(input.sharedWith ? { sharedWith: input.sharedWith } : {}),
          salt:
            input.compat === undefined
              ? tenantSalt(input.config, input.tenantId)
              : `${tenantSalt(input.config, input.tenantId)}:compat:${input.compat}`,
          rules,
          model: input.model,
          modelId: input.modelId,
          deferMessages,
        },
        input.memo,
      );
    } catch (err) {
      input.log.warn("engine.fault", { op: "analyze", fault: err instanceof Error ? err.name : "unknown" });
      return null;
    }
  };
  let analysis = analyzed(input.defer === true);
  if (!analysis) return unchanged(input.raw);
  // Gemini's implicit cache and the compat upstreams' automatic caches need only stable bytes: the canonical
  // request, with nothing placed in it.
  if (analysis.upstream === "gemini" || input.compat !== undefined) {
    // No state is read: a deferred analysis stays so.
    const unplanned = analysis.deferred
      ? { analysis, hashLater: () => analyzed(false) }
      : { analysis, positions: positionsOf(analysis, null) };
    try {
      return { ...unchanged(renderGemini(analysis)), ...unplanned };
    } catch (err) {
      input.log.warn("engine.fault", { op: "render", fault: err instanceof Error ? err.name : "unknown" });
      return { ...unchanged(input.raw), ...unplanned };
    }
  }
  const lookup = async (a: Analysis): Promise<PlanLookup> => {
    try {
      return await input.lookup(a.candidates, {
        family: a.family,
        conversation: a.conversation,
        model: a.model.slice(0, 200),
        continues: a.continues,
      });
    } catch (err) {
      // The worker's lookup never throws (src/tracker/client.ts); another caller's may: plan without it.
      input.log.warn("tracker.fault", { op: "lookup", fault: err instanceof Error ? err.name : "unknown" });
      return { known: new Map() };
    }
  };
  let found = await lookup(analysis);
  if (analysis.deferred && found.heard) {
    // The isolate has word of the conversation: states of its later positions may be known, so they are hashed now.
    const whole = analyzed(false);
    if (!whole) return unchanged(input.raw);
    analysis = whole;
    found = await lookup(whole);
  }
  const hashLater = analysis.deferred ? () => analyzed(false) : undefined;
  const known = found.known;
  // Not a plan input: what the edge names as `diagnostics.previous_message_id` (proxy.ts), plan or no plan.
  const diagnostics =
    found.previousMessageId === undefined ? {} : { previousMessageId: found.previousMessageId };
  try {
    const ctx = planContext({
      nowMs: input.nowMs,
      settings: input.settings,
      models: input.config.models,
      model: input.model,
      familyRatePerMin: found.familyRatePerMin,
      calibration: found.calibration,
      outlook: found.outlook,
    });
    const plan =
      analysis.upstream === "anthropic"
        ? planAnthropic(analysis, known, ctx, {
            // Bedrock counts each cache point by the tokens since the one before it (plan/anthropic.ts).
            spacedCheckpoints: input.endpoint === "invoke" || input.endpoint === "converse",
          })
        : planOpenAI(analysis, known, ctx);
    let rendered: RenderedBody | null = null;
    let body: string;
    if (plan.upstream === "anthropic" && analysis.converse) body = renderConverse(analysis, plan);
    else {
      rendered =
        plan.upstream === "anthropic"
          ? renderAnthropicBody(analysis, plan, input.scanHint)
          : renderOpenAIBody(analysis, plan, input.scanHint);
      body = rendered.text;
    }
    return {
      body,
      ...(rendered ? { rendered } : {}),
      analysis,
      plan,
      planText: describePlan(plan),
      positions: hashLater ? [] : positionsOf(analysis, plan),
      ...diagnostics,
      ...(hashLater ? { hashLater } : {}),
    };
  } catch (err) {
    input.log.warn("engine.fault", { op: "plan", fault: err instanceof Error ? err.name : "unknown" });
    const unplanned = { ...unchanged(input.raw), analysis, ...diagnostics };
    return hashLater ? { ...unplanned, hashLater } : { ...unplanned, positions: positionsOf(analysis, null) };
  }
}

/** The hashed positions of a request, each with the TTL of the breakpoint placed there, if any. */
function positionsOf(a: Analysis, plan: Plan | null): PositionRecord[] {
  const marks = new Map<number, "5m" | "1h" | "30m">();
  for (const b of a.clientBreakpoints) marks.set(b.segment, b.ttl);
  if (plan) for (const b of plan.breakpoints) marks.set(b.segment, b.ttl);
  const out: PositionRecord[] = [];
  a.segments.forEach((s, i) => {
    if (s.hash !== undefined)
      out.push({ hash: s.hash, tokens: s.cumulativeTokens, breakpoint: marks.get(i) ?? null });
  });
  return out;
}

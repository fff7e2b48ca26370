import { createHmac } from "node:crypto";
import type { AnthropicPlan, OpenAIPlan, PlannedBreakpoint } from "../../plan/types.ts";
import type { Analysis, SegmentLoc } from "../../prefix/types.ts";
import { applyToBody, type Marker, type RenderedBody, renderBody, type TopLevelField } from "./apply.ts";
import type { ScanHint } from "./scan.ts";

function anthropicPath(loc: SegmentLoc): (string | number)[] | null {
  if (loc.inserted) return null;
  if (loc.area === "tools") return ["tools", loc.index];
  if (loc.area === "system") return loc.index < 0 ? ["system"] : ["system", loc.index];
  if (loc.area === "messages" && loc.toolCall === undefined) {
    return loc.block === undefined || loc.block < 0
      ? ["messages", loc.index, "content"]
      : ["messages", loc.index, "content", loc.block];
  }
  return null;
}

function markers(
  a: Analysis,
  bps: readonly PlannedBreakpoint[],
  make: (bp: PlannedBreakpoint) => Marker | null,
): Marker[] {
  const out: Marker[] = [];
  for (const bp of bps) {
    if (a.segments[bp.segment] === undefined) continue;
    const m = make(bp);
    if (m) out.push(m);
  }
  return out;
}

/** The Anthropic body to forward: the canonical request with the plan's `cache_control` markers. */
export function renderAnthropic(a: Analysis, plan: AnthropicPlan): string {
  return renderAnthropicBody(a, plan).text;
}

/** `renderAnthropic`, as a body that can take one more top-level field without a copy. */
export function renderAnthropicBody(a: Analysis, plan: AnthropicPlan, hint?: ScanHint): RenderedBody {
  const list = markers(a, plan.breakpoints, (bp) => {
    const path = anthropicPath((a.segments[bp.segment] as { loc: SegmentLoc }).loc);
    const value = bp.ttl === "1h" ? { type: "ephemeral", ttl: "1h" } : { type: "ephemeral" };
    return path ? { path, key: "cache_control", value, textType: "text" } : null;
  });
  return renderBody(a.raw, a.canonical.edits, list, [], hint);
}

/** The Gemini body to forward: the canonical request (implicit caching places no markers). */
export function renderGemini(a: Analysis): string {
  return applyToBody(a.raw, a.canonical.edits, [], []);
}

/**
 * What a client's own `prompt_cache_key` becomes upstream: an HMAC of it keyed by the request's h0 (itself an
 * HMAC under the tenant's secret salt). Two tenants sending `support-bot` no longer share provider routing,
 * and one tenant's key stays stable for a model and its cache parameters (as its prefix cache is).
 */
export function tenantScopedCacheKey(h0: string, clientKey: string): string {
  return `stk-c-${createHmac("sha256", h0).update(`client-key:${clientKey}`).digest("base64url").slice(0, 32)}`;
}

/** The OpenAI body to forward: canonical request, `prompt_cache_key`/retention/options and breakpoints. */
export function renderOpenAI(a: Analysis, plan: OpenAIPlan): string {
  return renderOpenAIBody(a, plan).text;
}

/** `renderOpenAI`, as a body that can take one more top-level field without a copy. */
export function renderOpenAIBody(a: Analysis, plan: OpenAIPlan, hint?: ScanHint): RenderedBody {
  const responses = a.upstream === "openai-responses";
  const list = markers(a, plan.breakpoints, (bp) => {
    const loc = (a.segments[bp.segment] as { loc: SegmentLoc }).loc;
    if (loc.area !== "messages" || loc.inserted || loc.toolCall !== undefined || loc.block === -2)
      return null;
    const area = responses ? "input" : "messages";
    const value = { mode: "explicit" };
    const textType = responses ? "input_text" : "text";
    if (loc.index < 0)
      return { path: [area], key: "prompt_cache_breakpoint", value, textType, asUserMessage: true };
    const path =
      loc.block === undefined || loc.block < 0
        ? [area, loc.index, "content"]
        : [area, loc.index, "content", loc.block];
    return { path, key: "prompt_cache_breakpoint", value, textType };
  });
  const top: TopLevelField[] = [];
  if (plan.promptCacheKey) top.push({ key: "prompt_cache_key", value: plan.promptCacheKey.value });
  if (plan.retention) top.push({ key: "prompt_cache_retention", value: plan.retention });
  if (plan.cacheMode) top.push({ key: "prompt_cache_options", value: { mode: plan.cacheMode } });
  const clientKey = a.openai?.promptCacheKey;
  const edits =
    clientKey === undefined
      ? a.canonical.edits
      : [...a.canonical.edits, { path: ["prompt_cache_key"], value: tenantScopedCacheKey(a.h0, clientKey) }];
  return renderBody(a.raw, edits, list, top, hint);
}

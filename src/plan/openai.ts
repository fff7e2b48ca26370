import { chooseOpenAIWrites, chooseRetention, shardCount } from "../decide/openai.ts";
import { reuseOf } from "../decide/reuse.ts";
import { modelInfo } from "../economics/models.ts";
import type { Analysis, Segment } from "../prefix/types.ts";
import { newTokensOf } from "./new-tokens.ts";
import type { OpenAIPlan, PlanContext, PrefixState } from "./types.ts";

/**
 * Plans OpenAI caching: a `prompt_cache_key` from the tenant-salted family (the client's own is kept),
 * sharded by conversation when the family runs hotter than one key should; `prompt_cache_retention: "24h"`
 * where the model and tenant allow; and on GPT-5.6+ an explicit breakpoint at the end of the stable head,
 * with `prompt_cache_options.mode: "explicit"` when the implicit write of the newest message would not pay.
 */
export function planOpenAI(
  a: Analysis,
  known: ReadonlyMap<string, PrefixState>,
  ctx: PlanContext,
): OpenAIPlan {
  if (a.upstream === "anthropic" || a.upstream === "gemini")
    throw new Error("planOpenAI needs an OpenAI analysis");
  const m = ctx.model ?? modelInfo(a.model, ctx.models, "openai");
  const client = a.openai ?? {};
  const plan: OpenAIPlan = {
    upstream: a.upstream,
    promptCacheKey: null,
    retention: null,
    cacheMode: null,
    breakpoints: [],
    notes: [],
  };
  if (ctx.tenant.disabled) {
    plan.notes.push("disabled");
    return plan;
  }

  if (client.promptCacheKey === undefined) {
    const shards = shardCount(ctx.familyRatePerMin);
    const shard = shards > 1 ? bucket(a.conversation, shards) : 0;
    const base = `stk-${a.family.slice(0, 16)}`;
    plan.promptCacheKey = { value: shards > 1 ? `${base}-${shard}` : base, shard, shards };
  } else plan.notes.push("client-key");

  if (m.cacheStyle !== "openai-breakpoints") {
    plan.retention = chooseRetention(m, ctx.tenant.allowRetention24h, client.retention !== undefined);
    return plan;
  }

  // GPT-5.6+: writes cost 1.25x and a cached prefix matches only at a breakpoint.
  if (client.options !== undefined || a.clientBreakpoints.length > 0) {
    plan.notes.push("client-breakpoints");
    return plan;
  }
  const ratio = ctx.calibration?.ratio ?? 1;
  const tokensAt = (i: number): number => Math.round((a.segments[i]?.cumulativeTokens ?? 0) * ratio);
  const eligible = (s: Segment, i: number): boolean =>
    s.breakpointable && tokensAt(i) >= m.minCacheableTokens;
  const stateOf = (i: number): PrefixState | undefined => {
    const h = a.segments[i]?.hash;
    return h === undefined ? undefined : known.get(h);
  };
  let head = -1;
  for (let i = Math.min(a.headEnd, a.segments.length - 1); i >= 0; i--) {
    if (eligible(a.segments[i] as Segment, i)) {
      head = i;
      break;
    }
  }
  const headState = stateOf(head);
  const headReuse = reuseOf.head(headState, ctx.familyRatePerMin, ctx.outlook, ctx.nowMs);
  const last = a.segments.length - 1;
  const newTokens = newTokensOf(a, (i) => (stateOf(i)?.seen ?? 0) > 0, tokensAt);
  const tailReuse = reuseOf.tail(stateOf(last), a.continues, ctx.outlook, newTokens);
  const headTokens = head >= 0 ? tokensAt(head) : 0;
  const pays = chooseOpenAIWrites(m, head >= 0 ? { tokens: headTokens, reuse: headReuse } : null, {
    tokens: Math.max(tokensAt(last) - headTokens, 0),
    reuse: tailReuse,
  });
  const headPays = pays.head;
  const tailPays = pays.tail;

  if (headPays && head < last)
    plan.breakpoints.push({ segment: head, ttl: "30m", role: "head", tokens: headTokens });
  if (!tailPays && tokensAt(last) >= m.minCacheableTokens) {
    plan.cacheMode = "explicit";
    plan.notes.push("tail-not-written");
  }
  return plan;
}

// A stable bucket from a base64url hash: its first 30 bits.
function bucket(hash: string, shards: number): number {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  let v = 0;
  for (let i = 0; i < 5; i++) v = v * 64 + Math.max(alphabet.indexOf(hash[i] ?? "A"), 0);
  return v % shards;
}

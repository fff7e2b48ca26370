import type { Plan, PlannedBreakpoint } from "./types.ts";

function k(tokens: number): string {
  return tokens >= 1000 ? `${(tokens / 1000).toFixed(1)}k` : String(tokens);
}

function bps(list: readonly PlannedBreakpoint[]): string {
  return list.map((b) => `${b.role}@${b.segment}:${b.ttl}`).join(",");
}

/**
 * One ASCII line for the `x-stoker-plan` response header, e.g.
 * `anthropic bp=head@3:5m,tail@41:5m client=1 read=12.4k write=3.1k` or
 * `openai-chat key=stk-AbC..(2/4) ret=24h mode=explicit bp=head@2:30m`.
 */
export function describePlan(plan: Plan): string {
  const parts: string[] = [plan.upstream];
  if (plan.breakpoints.length > 0) parts.push(`bp=${bps(plan.breakpoints)}`);
  if (plan.upstream === "anthropic") {
    if (plan.clientBreakpoints > 0) parts.push(`client=${plan.clientBreakpoints}`);
    if (plan.autoCache) parts.push("auto");
    parts.push(`read=${k(plan.expected.readTokens)}`, `write=${k(plan.expected.writeTokens)}`);
    const l = plan.lasting;
    if (l) parts.push(`lasting=${l.lasting}(p5m=${l.p5m.toFixed(2)},p1h=${l.p1h.toFixed(2)})`);
  } else {
    const key = plan.promptCacheKey;
    if (key)
      parts.push(key.shards > 1 ? `key=${key.value}(${key.shard + 1}/${key.shards})` : `key=${key.value}`);
    if (plan.retention) parts.push(`ret=${plan.retention}`);
    if (plan.cacheMode) parts.push(`mode=${plan.cacheMode}`);
  }
  if (plan.notes.length > 0) parts.push(`note=${plan.notes.join(",")}`);
  return parts.join(" ");
}

import type { AnthropicPlan } from "../../plan/types.ts";
import type { Analysis } from "../../prefix/types.ts";

type Json = Record<string, unknown>;

/**
 * The Converse body to forward: the client's request with a `cachePoint` block after each block the plan
 * marks (`{type: "default"}`, `ttl: "1h"` for an hour). Parsed and written again: Converse requests are
 * rebuilt whole, unlike the Anthropic render's byte edits.
 */
export function renderConverse(a: Analysis, plan: AnthropicPlan): string {
  const map = a.converse;
  if (!map || plan.breakpoints.length === 0) return a.raw;
  const body = JSON.parse(a.raw) as Json;
  const inserts: { list: unknown[]; after: number; ttl: string }[] = [];
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const config = body.toolConfig as Json | undefined;
  for (const bp of plan.breakpoints) {
    const loc = a.segments[bp.segment]?.loc;
    if (!loc || loc.inserted) continue;
    let list: unknown;
    let after: number | undefined;
    if (loc.area === "tools") {
      list = config?.tools;
      after = map.tools[loc.index];
    } else if (loc.area === "system") {
      list = body.system;
      after = map.system[loc.index];
    } else if (loc.area === "messages" && loc.block !== undefined && loc.block >= 0) {
      list = (messages[loc.index] as Json | undefined)?.content;
      after = map.messages[loc.index]?.[loc.block];
    }
    if (!Array.isArray(list) || after === undefined) continue;
    inserts.push({ list, after, ttl: bp.ttl });
  }
  // From the back, so earlier indexes stay right; never next to a cachePoint already there.
  inserts.sort((x, y) => y.after - x.after);
  for (const { list, after, ttl } of inserts) {
    const next = list[after + 1] as Json | undefined;
    if (next && next.cachePoint !== undefined) continue;
    list.splice(after + 1, 0, { cachePoint: { type: "default", ...(ttl === "1h" ? { ttl: "1h" } : {}) } });
  }
  return JSON.stringify(body);
}

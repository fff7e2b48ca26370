import type { Plan } from "../plan/types.ts";
import type { Analysis } from "../prefix/types.ts";
import type { WholeCapture } from "../tracker/types.ts";
import { MAX_CAPTURE_BYTES } from "../tracker/validate.ts";
import type { Prepared } from "./prepare.ts";

/**
 * What a keepalive ping for this request would replay: its deepest breakpoint (planned or the client's; on
 * OpenAI the whole prompt)
 * with a chain hash, and the forwarded body and headers (not the client's `Idempotency-Key`: a ping replaying
 * it would be answered from the provider's idempotency cache, or refused). Null when there is nothing a ping
 * could keep.
 */
export function keepaliveCapture(
  prepared: Prepared,
  body: string,
  headers: Headers,
  path: string,
): WholeCapture | null {
  // Larger requests are not kept for pings (a SQLite row holds 2 MB); their accounting is unaffected.
  if (body.length > MAX_CAPTURE_BYTES) return null;
  const a = prepared.analysis;
  const plan = prepared.plan;
  if (!a || !plan) return null;
  const { segment, ttl } = pingedAt(a, plan);
  const seg = a.segments[segment];
  if (!seg?.hash) return null;
  const kept: [string, string][] = [];
  for (const [name, value] of headers)
    if (name !== "x-api-key" && name !== "authorization" && name !== "idempotency-key")
      kept.push([name, value]);
  return { conversation: a.conversation, hash: seg.hash, loc: seg.loc, ttl, path, headers: kept, body };
}

/**
 * A capture made from a deferred analysis (`Prepared.hashLater`) with its position's hash in the settled
 * one (edge/prepare.ts `settled`), or null when that has none.
 */
export function rehashedCapture<C extends { hash: string }>(capture: C, whole: Prepared): C | null {
  const a = whole.analysis;
  const hash = a && whole.plan ? a.segments[pingedAt(a, whole.plan).segment]?.hash : undefined;
  return hash === undefined ? null : { ...capture, hash };
}

/** The deepest breakpoint with a chain hash (planned or the client's; on OpenAI the whole prompt), or -1. */
function pingedAt(a: Analysis, plan: Plan): { segment: number; ttl: "5m" | "1h" } {
  let deepest = -1;
  let ttl: "5m" | "1h" = "5m";
  if (plan.upstream === "anthropic") {
    for (const b of [...plan.breakpoints, ...a.clientBreakpoints]) {
      if (b.segment > deepest && a.segments[b.segment]?.hash !== undefined) {
        deepest = b.segment;
        ttl = b.ttl === "1h" ? "1h" : "5m";
      }
    }
  } else {
    // OpenAI caches the whole prompt: the deepest hashed position stands for it.
    for (let i = a.segments.length - 1; i >= 0 && deepest < 0; i--)
      if (a.segments[i]?.hash !== undefined) deepest = i;
  }
  return { segment: deepest, ttl };
}

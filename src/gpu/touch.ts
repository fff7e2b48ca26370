import { USE_CLASSES } from "../decide/gaps.ts";
import { priorQ } from "../decide/hazard.ts";
import { nextWithin } from "../decide/hold-value.ts";

/**
 * GPU keepalive: when to touch a prefix a backend holds, so that vLLM's LRU keeps it. Pure.
 *
 * A vLLM backend has no TTL: a free block survives until newer prompts need its memory, i.e. for about
 * `residency = KV cache tokens / rate of new (uncached) tokens` after its last use. A touch (the same prompt
 * with `max_tokens: 1`) reads the cached prefix and makes it the most recently used again, for the price of
 * about one decode step (TOUCH_GPU_S). It pays when the chance that the conversation comes back within the
 * next residency, given that it has been idle so far, times the prefill it would then save, beats that. The
 * chance is the decision core's prior (`priorQ`, fitted on the Mooncake training half): when a conversation
 * that has had 1, 2, 3-5 or 6+ requests sends its next one, per 5-minute idle window. The tracker's unit is
 * the same (a conversation, keyed through its first message, classed by its requests so far), but the GPU
 * path does not learn per-family return times on top of the prior as the tracker does.
 *
 * Not free for others: a touched prefix keeps memory that LRU would have given to newer prompts. So touched
 * prompts may hold at most TOUCH_SHARE of a backend's KV cache, and only prefixes of MIN_TOUCH_TOKENS or more
 * are touched.
 */

/** GPU time of one touch: a decode step and the prompt's last partial block (under 16 tokens). */
export const TOUCH_GPU_S = 0.02;
export const MIN_TOUCH_TOKENS = 2048;
/** Share of a backend's KV cache that touched prompts may hold at once. */
export const TOUCH_SHARE = 0.25;
export const MAX_TOUCHES = 12;
/** No touch once the last real use is older than this (the keepalive policy's horizon). */
export const TOUCH_HORIZON_MS = 60 * 60_000;
/** Touches go out at this fraction of the estimated residency after the last use or touch. */
export const TOUCH_AT = 0.5;

export interface TouchCandidate {
  tokens: number;
  /** Real requests of the conversation so far. */
  uses: number;
  touches: number;
  lastUseMs: number;
}

export interface TouchContext {
  nowMs: number;
  /** Estimated time a free block survives on the backend holding the prefix (Infinity: nothing evicts). */
  residencyMs: number;
  prefillTokensPerS: number;
  /** Tokens of touched prompts the backend may still take under TOUCH_SHARE. */
  roomTokens: number;
}

export type TouchReason =
  | "pays"
  | "does-not-pay"
  | "horizon"
  | "max-touches"
  | "small"
  | "no-room"
  | "not-needed";

/** Whether to touch now, and the expected GPU-seconds it gains (saving x chance − cost). */
export function decideTouch(
  e: TouchCandidate,
  ctx: TouchContext,
): { touch: boolean; reason: TouchReason; gainS: number } {
  const idle = Math.max(0, ctx.nowMs - e.lastUseMs);
  const no = (reason: TouchReason, gainS = 0) => ({ touch: false, reason, gainS });
  if (e.tokens < MIN_TOUCH_TOKENS) return no("small");
  if (e.touches >= MAX_TOUCHES) return no("max-touches");
  if (idle >= TOUCH_HORIZON_MS) return no("horizon");
  if (!Number.isFinite(ctx.residencyMs)) return no("not-needed");
  if (e.tokens > ctx.roomTokens) return no("no-room");
  let useClass = 0;
  for (let k = 0; k < USE_CLASSES.length; k++) if (e.uses >= (USE_CLASSES[k] as number)) useClass = k;
  const p = nextWithin(priorQ(useClass), idle, ctx.residencyMs);
  const gainS = p * (e.tokens / ctx.prefillTokensPerS) - TOUCH_GPU_S;
  return gainS > 0 ? { touch: true, reason: "pays", gainS } : no("does-not-pay", gainS);
}

/** When to look at an entry next: TOUCH_AT of the residency after `fromMs` (null: never, nothing evicts). */
export function nextLook(fromMs: number, residencyMs: number): number | null {
  if (!Number.isFinite(residencyMs)) return null;
  return Math.round(fromMs + Math.max(1000, residencyMs * TOUCH_AT));
}

/**
 * The touch request: the forwarded body (same prompt, same `cache_salt`) answered with one token, not
 * streamed. Returns null when the body is not a JSON object.
 */
export function touchBody(forwarded: string): string | null {
  let body: unknown;
  try {
    body = JSON.parse(forwarded);
  } catch {
    return null;
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) return null;
  const out: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  for (const k of ["stream", "stream_options", "n", "best_of", "logprobs", "top_logprobs", "echo"])
    delete out[k];
  out.max_tokens = 1;
  if ("max_completion_tokens" in out) out.max_completion_tokens = 1;
  return JSON.stringify(out);
}

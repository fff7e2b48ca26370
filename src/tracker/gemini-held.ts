import { tenantEpoch } from "../tenants/epoch.ts";
import type { GeminiCacheState } from "./gemini-caches.ts";

/**
 * This isolate's copy of the Gemini explicit caches its tenants hold (the tracker's `geminiCaches` answers and
 * the caches this isolate created, extended or deleted itself), so a request is planned from what the isolate
 * holds and never waits on the tracker. A cache the isolate has not heard of yet is not used: the request
 * goes without it (what it did when the tracker was late) and its answer, fetched after the response, warms
 * this copy. A cache deleted elsewhere is found out by the provider's refusal (the request is resent
 * unchanged, gemini-explicit.ts).
 */
const held = new Map<string, Map<string, GeminiCacheState>>();
let epoch = tenantEpoch();

/** Caches per tenant and tenants per isolate: bounded by design (the oldest heard of are dropped first). */
const MAX_PER_TENANT = 256;
const MAX_TENANTS = 1_000;

function tenantCaches(tenantId: string, create: boolean): Map<string, GeminiCacheState> | undefined {
  if (epoch !== tenantEpoch()) {
    held.clear();
    epoch = tenantEpoch();
  }
  let m = held.get(tenantId);
  if (!m && create) {
    if (held.size >= MAX_TENANTS) held.delete(held.keys().next().value as string);
    m = new Map();
    held.set(tenantId, m);
  }
  return m;
}

/** The held caches of `model` ending at one of `hashes` with more than `marginMs` left at `nowMs`, longest first. */
export function heldGeminiCaches(
  tenantId: string,
  model: string,
  hashes: readonly string[],
  nowMs: number,
  marginMs: number,
): GeminiCacheState[] {
  const m = tenantCaches(tenantId, false);
  if (!m) return [];
  const wanted = new Set(hashes);
  return [...m.values()]
    .filter((c) => c.model === model && wanted.has(c.hash) && c.expireAt > nowMs + marginMs)
    .sort((a, b) => b.contents - a.contents);
}

/**
 * Takes in the tracker's answer for `hashes` of `model`: its caches replace what the isolate held at those
 * hashes (a cache it no longer names is gone: expired, deleted or never stored).
 */
export function heardGeminiCaches(
  tenantId: string,
  model: string,
  hashes: readonly string[],
  caches: readonly GeminiCacheState[],
): void {
  const m = tenantCaches(tenantId, caches.length > 0);
  if (!m) return;
  const asked = new Set(hashes);
  for (const [name, c] of m) if (c.model === model && asked.has(c.hash)) m.delete(name);
  for (const c of caches) holdGeminiCache(tenantId, c);
}

/** Holds one cache as the isolate now knows it (created or extended here). */
export function holdGeminiCache(tenantId: string, cache: GeminiCacheState): void {
  const m = tenantCaches(tenantId, true) as Map<string, GeminiCacheState>;
  m.delete(cache.name);
  if (m.size >= MAX_PER_TENANT) m.delete(m.keys().next().value as string);
  m.set(cache.name, { ...cache });
}

/** Forgets a cache (deleted here, or refused by the provider). */
export function dropGeminiCache(tenantId: string, name: string): void {
  tenantCaches(tenantId, false)?.delete(name);
}

import type { Analysis } from "../prefix/types.ts";

/** An explicit cache Stoker created for a tenant: what it holds, by chain hash. */
export interface GeminiCacheRef {
  /** `cachedContents/…`, the provider's name (never shown to another tenant). */
  name: string;
  /** Bare model id the cache was created for. */
  model: string;
  /** Chain hash through the cache's end: the head's end, or the last part of its last content. */
  hash: string;
  /** How many of the request's leading contents the cache holds (0: only the head). */
  contents: number;
  tokens: number;
}

/** A place an explicit cache can end in a request: after the head, or after a whole content. */
export interface CacheBoundary {
  contents: number;
  hash: string;
  /** Estimated tokens through the boundary. */
  tokens: number;
}

type Json = Record<string, unknown>;

/**
 * Where a cache can end in this request: the head's end (system instruction, tools, tool config) and the end
 * of each content but the last (a request must keep at least one content of its own). Requests that already
 * name a `cachedContent` have none.
 */
export function cacheBoundaries(a: Analysis): CacheBoundary[] {
  if (a.upstream !== "gemini" || !a.gemini || a.gemini.clientCache !== null) return [];
  const out: CacheBoundary[] = [];
  const head = a.headEnd >= 0 ? a.segments[a.headEnd] : undefined;
  if (head?.hash) out.push({ contents: 0, hash: head.hash, tokens: head.cumulativeTokens });
  let lastContent = -1;
  for (const s of a.segments) if (s.loc.area === "messages") lastContent = Math.max(lastContent, s.loc.index);
  a.segments.forEach((s, i) => {
    if (s.loc.area !== "messages" || s.loc.index >= lastContent || !s.hash) return;
    const next = a.segments[i + 1];
    if (next && next.loc.area === "messages" && next.loc.index === s.loc.index) return;
    out.push({ contents: s.loc.index + 1, hash: s.hash, tokens: s.cumulativeTokens });
  });
  return out;
}

/** True when the request's prefix is exactly what `ref` holds (same model, same chain hash at its end). */
export function matchesCache(a: Analysis, ref: GeminiCacheRef): boolean {
  if (a.model !== ref.model) return false;
  return cacheBoundaries(a).some((b) => b.contents === ref.contents && b.hash === ref.hash);
}

/**
 * The request rewritten to use `ref`: what the cache holds (system instruction, tools, tool config and its
 * contents) is taken out, `cachedContent` names the cache. `canonical` is the body Stoker would otherwise
 * forward; call only when `matchesCache` holds.
 */
export function rewriteForCache(canonical: string, ref: GeminiCacheRef): string {
  const body = JSON.parse(canonical) as Json;
  const { systemInstruction: _s, tools: _t, toolConfig: _c, contents, ...rest } = body;
  const kept = Array.isArray(contents) ? contents.slice(ref.contents) : [];
  return JSON.stringify({ ...rest, cachedContent: ref.name, contents: kept });
}

/** The `cachedContents.create` body for the prefix of `canonical` through `boundary`, held for `ttlSeconds`. */
export function cacheCreateBody(
  canonical: string,
  model: string,
  boundary: Pick<CacheBoundary, "contents">,
  ttlSeconds: number,
): string {
  const body = JSON.parse(canonical) as Json;
  const contents = Array.isArray(body.contents) ? body.contents.slice(0, boundary.contents) : [];
  const out: Json = { model: `models/${model}` };
  for (const k of ["systemInstruction", "tools", "toolConfig"] as const)
    if (body[k] !== undefined && body[k] !== null) out[k] = body[k];
  if (contents.length > 0) out.contents = contents;
  out.ttl = `${Math.max(1, Math.round(ttlSeconds))}s`;
  return JSON.stringify(out);
}

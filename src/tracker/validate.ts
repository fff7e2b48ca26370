import { MAX_SHAPES, SHAPE_BASE } from "../prefix/diff.ts";
import { type Accounting, USAGE_FIELDS } from "../upstream/accounting.ts";
import { messageIdOf, type ProviderMiss } from "../upstream/diagnostics.ts";
import type { CaptureBody, LookupScope, PositionRecord, RecordRequest, WholeCapture } from "./types.ts";

/** Thrown for RPC input that does not match its type: nothing is written. */
export class TrackerInputError extends Error {
  override name = "TrackerInputError";
}

const HASH = /^[A-Za-z0-9_-]{8,128}$/;
const MAX_POSITIONS = 512;
const MAX_LOOKUP = 512;

function fail(what: string): never {
  throw new TrackerInputError(`invalid tracker input: ${what}`);
}

function count(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) fail(what);
  return v;
}

function money(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) fail(what);
  return v;
}

function text(v: unknown, what: string, max = 200): string {
  if (typeof v !== "string" || v.length === 0 || v.length > max) fail(what);
  return v;
}

/** Chain hashes for `lookup`: a bounded list of short opaque strings. */
export function validateLookup(hashes: unknown): string[] {
  if (!Array.isArray(hashes) || hashes.length > MAX_LOOKUP) fail("hashes");
  for (const h of hashes) if (typeof h !== "string" || !HASH.test(h)) fail("hash");
  return hashes as string[];
}

/** The optional scope of a lookup: a family hash and a model name. */
export function validateScope(scope: unknown): LookupScope | undefined {
  if (scope === undefined || scope === null) return undefined;
  if (typeof scope !== "object") fail("scope");
  const { family, model, conversation } = scope as Record<string, unknown>;
  if (typeof family !== "string" || !HASH.test(family)) fail("scope.family");
  const out: LookupScope = { family, model: text(model, "scope.model") };
  if (conversation !== undefined) {
    if (typeof conversation !== "string" || !HASH.test(conversation)) fail("scope.conversation");
    out.conversation = conversation;
  }
  return out;
}

function validatePosition(p: unknown): PositionRecord {
  if (p === null || typeof p !== "object") fail("position");
  const { hash, tokens, breakpoint } = p as Record<string, unknown>;
  if (typeof hash !== "string" || !HASH.test(hash)) fail("position.hash");
  count(tokens, "position.tokens");
  if (breakpoint !== null && breakpoint !== "5m" && breakpoint !== "1h" && breakpoint !== "30m")
    fail("position.breakpoint");
  return p as PositionRecord;
}

/** The accounting fields of a record (its `requests` row), each checked; the rest of `r` is not looked at. */
export function validateAccounting(r: unknown): Accounting {
  if (r === null || typeof r !== "object") fail("record");
  const x = r as Record<string, unknown>;
  text(x.requestId, "requestId", 100);
  count(x.at, "at");
  if (
    x.upstream !== "anthropic" &&
    x.upstream !== "openai" &&
    x.upstream !== "gemini" &&
    x.upstream !== "bedrock" &&
    !(typeof x.upstream === "string" && /^gpu:[A-Za-z0-9_-]{1,64}$/.test(x.upstream)) &&
    !(typeof x.upstream === "string" && /^compat:[a-z0-9][a-z0-9_-]{0,31}$/.test(x.upstream))
  )
    fail("upstream");
  text(x.endpoint, "endpoint", 40);
  text(x.model, "model");
  if (typeof x.stream !== "boolean" || typeof x.keepalive !== "boolean") fail("flags");
  count(x.status, "status");
  text(x.result, "result", 40);
  if (x.usage !== null) {
    if (typeof x.usage !== "object") fail("usage");
    const u = x.usage as Record<string, unknown>;
    for (const k of USAGE_FIELDS) count(u[k], `usage.${k}`);
  }
  money(x.costUsd, "costUsd");
  money(x.costWithoutCacheUsd, "costWithoutCacheUsd");
  count(x.ttfbMs, "ttfbMs");
  count(x.durationMs, "durationMs");
  if (x.plan !== null && (typeof x.plan !== "string" || x.plan.length > 500)) fail("plan");
  return r as Accounting;
}

/** A record from the edge; every field checked before anything is written. */
export function validateRecord(r: unknown): RecordRequest {
  if (r === null || typeof r !== "object") fail("record");
  const x = r as Record<string, unknown>;
  text(x.tenantId, "tenantId", 80); // a scope: the id and its generation (src/tenants/scope.ts)
  validateAccounting(r);
  if (x.family !== null && (typeof x.family !== "string" || !HASH.test(x.family))) fail("family");
  if (x.conversation !== null && (typeof x.conversation !== "string" || !HASH.test(x.conversation)))
    fail("conversation");
  count(x.estimatedTokens, "estimatedTokens");
  if (!Array.isArray(x.positions)) fail("positions");
  // The accounting row always lands; parts only the planner, busters or keepalive need are dropped when they
  // exceed the tracker's bounds (a request with thousands of blocks or headers was still answered and billed).
  const positions = x.positions.length > MAX_POSITIONS ? [] : x.positions;
  positions.forEach(validatePosition);
  const chain = x.chain === null ? null : kept(x.chain, validateChain);
  const pricing = x.pricing as Record<string, unknown> | null;
  if (!pricing || typeof pricing !== "object") fail("pricing");
  money(pricing.inputPerToken, "pricing.inputPerToken");
  money(pricing.cacheRead, "pricing.cacheRead");
  if (pricing.cacheWrite5m !== undefined) money(pricing.cacheWrite5m, "pricing.cacheWrite5m");
  const capture = x.capture === null ? null : kept(x.capture, validateCapture);
  const excerpts = x.excerpts === undefined ? undefined : (kept(x.excerpts, validateExcerpts) ?? undefined);
  // Diagnostics come from the upstream's answer: anything unexpected is dropped, the record kept.
  const messageId = messageIdOf(x.messageId);
  const providerMiss = x.providerMiss == null ? null : kept<ProviderMiss>(x.providerMiss, validateMiss);
  const answer = x.answer === "tool" || x.answer === "reply" ? x.answer : null;
  return {
    ...(r as RecordRequest),
    positions: positions as PositionRecord[],
    chain,
    capture,
    excerpts,
    messageId,
    providerMiss,
    answer,
  } as RecordRequest;
}

function validateMiss(v: unknown): void {
  if (v === null || typeof v !== "object") fail("providerMiss");
  const { reason, missedTokens } = v as Record<string, unknown>;
  if (typeof reason !== "string" || !/^[a-z_]{1,40}$/.test(reason)) fail("providerMiss.reason");
  if (missedTokens !== null) count(missedTokens, "providerMiss.missedTokens");
}

/** The value when it passes `check`, else null (the part is dropped, the record kept). */
function kept<T>(v: unknown, check: (v: unknown) => void): T | null {
  try {
    check(v);
    return v as T;
  } catch (err) {
    if (err instanceof TrackerInputError) return null;
    throw err;
  }
}

function validateExcerpts(v: unknown): void {
  if (!Array.isArray(v) || v.length > 3) fail("excerpts");
  for (const e of v) {
    if (e === null || typeof e !== "object") fail("excerpts");
    const { segment, excerpt } = e as Record<string, unknown>;
    count(segment, "excerpts.segment");
    if (typeof excerpt !== "string" || excerpt.length > 300) fail("excerpts.excerpt");
  }
}

export const MAX_CHAIN_SEGMENTS = 4096;
/** Records one `recordMany` call carries at most (the edge coalesces up to this many). */
export const MAX_RECORD_BATCH = 32;

function validateChain(c: unknown): void {
  if (c === null || typeof c !== "object") fail("chain");
  const { h0, family, layout, shapes, messages, hashed, hashes, volatile } = c as Record<string, unknown>;
  if (typeof h0 !== "string" || typeof family !== "string" || typeof layout !== "string") fail("chain");
  if (layout.length > MAX_CHAIN_SEGMENTS) fail("chain.segments");
  if (!Array.isArray(shapes) || shapes.length > MAX_SHAPES) fail("chain.shapes");
  for (const shape of shapes) if (typeof shape !== "string" || !SHAPE.test(shape)) fail("chain.shapes");
  for (let i = 0; i < layout.length; i++) {
    const code = layout.charCodeAt(i) - SHAPE_BASE;
    if (code < 0 || code >= shapes.length) fail("chain.layout");
  }
  if (!Array.isArray(messages) || messages.length !== layout.length) fail("chain.messages");
  for (const m of messages)
    if (!Number.isInteger(m) || m < -1 || m > MAX_MESSAGE_INDEX) fail("chain.messages");
  ascending(hashed, layout.length, "chain.hashed");
  if (!Array.isArray(hashes) || hashes.length !== (hashed as number[]).length) fail("chain.hashes");
  for (const h of hashes) if (typeof h !== "string" || !HASH.test(h)) fail("chain.hashes");
  ascending(volatile, layout.length, "chain.volatile");
}

const SHAPE = /^(tool|system|params|message) [^\n]{0,64}$/;
const MAX_MESSAGE_INDEX = 1_000_000;

/** Segment indices: integers in [0, n), each larger than the one before. */
function ascending(list: unknown, n: number, name: string): void {
  if (!Array.isArray(list) || list.length > n) fail(name);
  let last = -1;
  for (const v of list) {
    if (!Number.isInteger(v) || v <= last || v >= n) fail(name);
    last = v;
  }
}

/** Stored bodies are capped below SQLite's row limit in Durable Objects (2 MB). */
export const MAX_CAPTURE_BYTES = 1_800_000;

const isCaptureBody = (b: unknown): b is CaptureBody => typeof b === "string" || b instanceof Uint8Array;

function validateCapture(k: unknown): void {
  if (k === null || typeof k !== "object") fail("keepalive");
  const c = k as Record<string, unknown>;
  if (typeof c.conversation !== "string" || !HASH.test(c.conversation)) fail("keepalive.conversation");
  if (typeof c.hash !== "string" || !HASH.test(c.hash)) fail("keepalive.hash");
  if (c.ttl !== "5m" && c.ttl !== "1h") fail("keepalive.ttl");
  if (typeof c.path !== "string" || !c.path.startsWith("/") || c.path.length > 500) fail("keepalive.path");
  if (!Array.isArray(c.headers) || c.headers.length > 100) fail("keepalive.headers");
  for (const h of c.headers) {
    if (!Array.isArray(h) || typeof h[0] !== "string" || typeof h[1] !== "string") fail("keepalive.header");
    const name = h[0].toLowerCase();
    if (name === "x-api-key" || name === "authorization" || name.startsWith("x-stoker-"))
      fail("keepalive.header");
  }
  if (c.body !== null && (!isCaptureBody(c.body) || c.body.length > MAX_CAPTURE_BYTES))
    fail("keepalive.body");
  const loc = c.loc as Record<string, unknown> | null;
  if (!loc || typeof loc !== "object" || typeof loc.area !== "string" || typeof loc.index !== "number")
    fail("keepalive.loc");
}

/** Held captures one `keepCaptures` call carries at most (the edge sends each on its own). */
export const MAX_HELD_CAPTURES = 32;

/** `keepCaptures` input: the tenant and its held captures, each whole (a body, not null). */
export function validateHeldCaptures(tenantId: unknown, captures: unknown): WholeCapture[] {
  text(tenantId, "tenantId", 80);
  if (!Array.isArray(captures) || captures.length > MAX_HELD_CAPTURES) fail("captures");
  for (const c of captures) {
    validateCapture(c);
    if (!isCaptureBody((c as { body: unknown }).body)) fail("keepalive.body");
  }
  return captures as WholeCapture[];
}

import type { ModelTable } from "../economics/models.ts";
import { modelInfo } from "../economics/models.ts";
import { adviceFor } from "./advice.ts";
import { type AgreementRow, countReasons } from "./agreement.ts";
import { usd } from "./figures.ts";
import type { BusterGroupRow, PrefixRow } from "./queries.ts";

/** Requests rows are kept 35 days; a longer range could only return what retention dropped. */
export const MAX_RANGE_MS = 35 * 86_400_000;
/** A timeseries answer holds at most this many buckets. */
export const MAX_BUCKETS = 2_016;
const DAY_MS = 86_400_000;

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string; param: string };

/** A time parameter: ISO 8601 with a zone, or epoch milliseconds. */
export function parseTime(value: string, param: string): Parsed<number> {
  const ms = /^\d{1,16}$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms) || ms < 0 || ms > 8.64e15)
    return { ok: false, message: `${param} must be an ISO 8601 time or epoch milliseconds`, param };
  return { ok: true, value: ms };
}

/** [from, to): defaults to the last 24 hours; from < to and at most 35 days apart. */
export function parseRange(
  query: { from?: string; to?: string },
  nowMs: number,
): Parsed<{ from: number; to: number }> {
  const to = query.to === undefined ? { ok: true as const, value: nowMs } : parseTime(query.to, "to");
  if (!to.ok) return to;
  const from =
    query.from === undefined
      ? { ok: true as const, value: to.value - DAY_MS }
      : parseTime(query.from, "from");
  if (!from.ok) return from;
  if (from.value >= to.value) return { ok: false, message: "from must be before to", param: "from" };
  if (to.value - from.value > MAX_RANGE_MS)
    return {
      ok: false,
      message: "the range may span at most 35 days (the retention of request rows)",
      param: "from",
    };
  return { ok: true, value: { from: from.value, to: to.value } };
}

export const iso = (ms: number): string => new Date(ms).toISOString();

/** Offset-based pages: the cursor is the offset of the next row. */
export function page<T>(rows: T[], limit: number, offset: number): { rows: T[]; next: string | null } {
  return rows.length > limit
    ? { rows: rows.slice(0, limit), next: String(offset + limit) }
    : { rows, next: null };
}

export function shapePrefix(p: PrefixRow, models: ModelTable, nowMs: number) {
  const m = modelInfo(
    p.model,
    models,
    // Compat upstreams' prices live in COMPAT_UPSTREAMS, not this table: their prefixes take OpenAI's stand-in.
    p.upstream === "openai" || p.upstream.startsWith("compat:")
      ? "openai"
      : p.upstream === "gemini"
        ? "gemini"
        : "anthropic",
  );
  const base = (p.tokens * m.inputPerMTok) / 1e6;
  // Each write's premium at its own TTL: a 1h write costs 2x the base price on Anthropic, a 5m one 1.25x.
  const premium =
    (p.writes - p.writes_1h) * Math.max(0, m.cacheWrite5m - 1) +
    p.writes_1h * Math.max(0, m.cacheWrite1h - 1);
  return {
    id: p.hash.slice(0, 12),
    family: p.family.slice(0, 12),
    upstream: p.upstream,
    model: p.model,
    tokens: p.tokens,
    seen: p.seen,
    hits: p.hits,
    misses: p.misses,
    writes: p.writes,
    writes_1h: p.writes_1h,
    last_seen: iso(p.last_seen),
    last_hit: p.hits > 0 && p.last_refresh !== null ? iso(p.last_refresh) : null,
    ttl_left_seconds: p.cached_until === null ? 0 : Math.max(0, Math.round((p.cached_until - nowMs) / 1000)),
    keepalive: { status: p.keepalive_state ?? "none", pings: p.keepalive_pings ?? 0 },
    saved_usd: usd(p.hits * base * (1 - m.cacheRead) - base * premium),
  };
}

export function shapeBuster(
  g: Omit<BusterGroupRow, "excerpt_id"> & { excerpt: string | null; request_id: string | null },
) {
  return {
    kind: g.kind,
    segment: g.segment,
    volatile: g.volatile === 1,
    upstream: g.upstream,
    model: g.model,
    count: g.count,
    tokens_lost: g.tokens_lost,
    cost_usd: usd(g.cost_usd),
    first_seen: iso(g.first_at),
    last_seen: iso(g.last_at),
    excerpt: g.excerpt,
    example_request_id: g.request_id,
    fix: adviceFor(g.kind, g.volatile === 1),
    provider_reasons: countReasons(g.provider_reasons),
    provider_compared: g.provider_compared,
    provider_agrees: g.provider_agrees,
  };
}

/** The `provider_agreement` of the busters answer. */
export function shapeAgreement(a: AgreementRow) {
  return {
    compared: a.compared,
    agree: a.agree,
    share: a.compared > 0 ? Math.round((a.agree / a.compared) * 1000) / 1000 : null,
    stoker_only: a.stoker_only,
    provider_only: a.provider_only,
    provider_reasons: countReasons(a.reasons),
  };
}

import type { RecordRequest } from "./types.ts";

/** What one position of a request tells about the provider's cache once the response is in. */
export interface PositionBelief {
  /** Prompt tokens through the position: exact where usage pins it, else the estimate scaled to the total. */
  tokens: number;
  /** `tokens` is the provider's own count (this position ends the read or the written prefix). */
  exact: boolean;
  /** The response carried usage, so read/written below are measured, not guessed. */
  measured: boolean;
  read: boolean;
  written: boolean;
  /** When the provider's entry for this prefix lapses, or null if it holds none. */
  cachedUntil: number | null;
  ttl: "5m" | "1h" | "30m" | null;
}

/** Entry lifetimes by TTL; the short one is configurable (ANTHROPIC_CACHE_TTL_SECONDS). */
export function ttlTable(shortMs: number): Record<"5m" | "30m" | "1h", number> {
  return { "5m": shortMs, "30m": 30 * 60_000, "1h": 60 * 60_000 };
}
/** OpenAI caches prompts automatically from this length on. */
const OPENAI_MIN_TOKENS = 1024;

/** Index of the position whose size is closest to `target` among those `eligible`, or -1. */
function closest(tokens: readonly number[], target: number, eligible: (i: number) => boolean): number {
  let best = -1;
  let gap = Number.POSITIVE_INFINITY;
  tokens.forEach((t, i) => {
    if (eligible(i) && Math.abs(t - target) < gap) {
      best = i;
      gap = Math.abs(t - target);
    }
  });
  return best;
}

/**
 * Turns the provider's reported usage into per-position facts. Token estimates can be off by 10 % or more
 * for one segment, so boundaries are matched rather than thresholded: the read prefix ends at the known entry
 * (`entries`: positions written before) closest to `cache_read` tokens; on Anthropic the writes end at the breakpoint closest to read + creation.
 * Those two positions then take the exact sizes the provider reported. OpenAI caches the whole prompt
 * (from 1024 tokens) automatically.
 */
export function believedAfter(
  r: RecordRequest,
  shortTtlMs = 5 * 60_000,
  entries: ReadonlySet<string> = new Set(),
): PositionBelief[] {
  const TTL_MS = ttlTable(shortTtlMs);
  const u = r.usage;
  const measured = u !== null && r.result === "ok" && r.status < 400;
  const scale = u && r.estimatedTokens > 0 ? u.inputTokens / r.estimatedTokens : 1;
  const tokens = r.positions.map((p) => Math.round(p.tokens * scale));
  if (!measured || !u) {
    return tokens.map((t) => ({
      tokens: t,
      exact: false,
      measured: false,
      read: false,
      written: false,
      cachedUntil: null,
      ttl: null,
    }));
  }
  const read = u.cacheReadTokens;
  const written = u.cacheWrite5mTokens + u.cacheWrite1hTokens;
  // A read ends where an earlier request wrote an entry: prefer those positions when there are any.
  const isEntry = (i: number) => entries.has(r.positions[i]?.hash ?? "");
  const anyEntry = r.positions.some((_p, i) => isEntry(i));
  const readEnd = read > 0 ? closest(tokens, read, (i) => !anyEntry || isEntry(i)) : -1;
  if (readEnd >= 0) tokens[readEnd] = read;

  // Automatic caches (OpenAI, Gemini implicit, compat upstreams): every position above the minimum is held
  // after a request.
  if (r.upstream === "openai" || r.upstream === "gemini" || r.upstream.startsWith("compat:")) {
    return tokens.map((t, i) => {
      const cached = t >= OPENAI_MIN_TOKENS;
      return {
        tokens: t,
        exact: i === readEnd,
        measured,
        read: i <= readEnd,
        written: cached && i > readEnd,
        cachedUntil: cached ? r.at + TTL_MS["5m"] : null,
        ttl: cached ? "5m" : null,
      };
    });
  }
  const writeEnd =
    written > 0
      ? closest(tokens, read + written, (i) => i > readEnd && r.positions[i]?.breakpoint != null)
      : -1;
  if (writeEnd >= 0) tokens[writeEnd] = read + written;
  return tokens.map((t, i) => {
    const p = r.positions[i];
    const isRead = i <= readEnd;
    const isWritten = !isRead && i <= writeEnd && p?.breakpoint != null;
    const ttl = p?.breakpoint ?? "5m";
    return {
      tokens: t,
      exact: i === readEnd || i === writeEnd,
      measured,
      read: isRead,
      written: isWritten,
      cachedUntil: isRead || isWritten ? r.at + TTL_MS[ttl] : null,
      ttl: isRead || isWritten ? ttl : null,
    };
  });
}

import type { WriteTtl } from "../economics/breakEven.ts";

/** How the gaps between a prefix's reuses have fallen (counts), as the tracker summarizes them. */
export interface GapSummary {
  count: number;
  within5m: number;
  within1h: number;
}

/** What the tracker knows of one chain hash. */
export interface PrefixState {
  /** Prompt tokens of the prefix (reported by the provider, or Stoker's estimate). */
  tokens: number;
  /** Requests that contained this prefix. */
  seen: number;
  lastSeenMs: number;
  /** Until when the provider is believed to hold it, or null if it is not believed cached. */
  cachedUntilMs: number | null;
  /** TTL of the entry the provider holds. */
  ttl: WriteTtl | "30m" | "24h" | null;
  gaps?: GapSummary;
}

/**
 * What the tracker has learned of when a family's prefixes come back: for the request's own tail (its
 * conversation's next request) and for the family's head (its next request), the chance of the next use
 * falling in each 5-minute idle window of the coming hour (what the entries leave to 1: not within the hour).
 */
export interface Outlook {
  head: readonly number[];
  /** Chance that the tenant's heads recur at all (1 once one has come back): `head`'s windows beyond the first count by it. */
  headsRecur: number;
  /** How many of the family's head's own gaps `head` blends (what one more gap weighs against). */
  headGaps: number;
  /**
   * Chance that a head seen for the first time, written for 5m, lapses while still in use within the hour, if
   * the tenant's heads recur (`newHeadLapse`: from the rate they come back at). Absent from older answers.
   */
  headLapse?: number;
  /** Width of the windows (the deploy's 5m TTL; shorter where ANTHROPIC_CACHE_TTL_SECONDS says so). */
  windowMs: number;
  tail: readonly number[];
  /** Index k: the share of returns that sent again the position k places before the previous request's last. */
  reach: readonly number[];
}

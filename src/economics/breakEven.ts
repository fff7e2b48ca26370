import type { ModelInfo } from "./models.ts";

export type WriteTtl = "5m" | "1h";

/** TTL of each write option, in milliseconds. */
export const TTL_MS: Readonly<Record<WriteTtl, number>> = { "5m": 5 * 60_000, "1h": 60 * 60_000 };

/** Extra cost of writing a token instead of sending it uncached, as a fraction of the base input price. */
export function writePremium(m: ModelInfo, ttl: WriteTtl): number {
  return (ttl === "1h" ? m.cacheWrite1h : m.cacheWrite5m) - 1;
}

/** What one cache read of a token saves against sending it uncached, as a fraction of the base price. */
export function readSaving(m: ModelInfo): number {
  return 1 - m.cacheRead;
}

/** Expected reads a write must get to pay for itself (Anthropic 5m: 0.25/0.9 = 0.28; 1h: 1/0.9 = 1.11). */
export function writeBreakEvenReads(m: ModelInfo, ttl: WriteTtl): number {
  return writePremium(m, ttl) / readSaving(m);
}

/** Expected USD gained by writing `tokens` now, given the reads expected before the entry lapses. */
export function writeValue(m: ModelInfo, ttl: WriteTtl, tokens: number, expectedReads: number): number {
  return (tokens * m.inputPerMTok * (readSaving(m) * expectedReads - writePremium(m, ttl))) / 1e6;
}

/**
 * Reads expected from one write when each reuse comes within the TTL with probability `p` and every read
 * restarts the TTL (a geometric run: p + p^2 + ...). `once` limits it to one read, as for a conversation
 * tail that the next turn supersedes.
 */
export function expectedReads(p: number, once = false): number {
  const q = Math.min(Math.max(p, 0), 0.98);
  return once ? q : q / (1 - q);
}

/**
 * Keepalive as rent-or-buy: a ping reads the entry (cost r) so that the next request reads instead of
 * rewriting (saving w - r). Myopically it pays when the next request falls in the next TTL window with
 * probability above r / (w - r): 0.087 for Anthropic 5m.
 */
export function keepaliveBreakEvenProbability(m: ModelInfo, ttl: WriteTtl): number {
  const write = ttl === "1h" ? m.cacheWrite1h : m.cacheWrite5m;
  return m.cacheRead / Math.max(write - m.cacheRead, 1e-9);
}

/** Whether one more ping of an entry pays, given the chance that the next real request lands in the next window. */
export function keepalivePays(m: ModelInfo, ttl: WriteTtl, pNextInWindow: number): boolean {
  return pNextInWindow > keepaliveBreakEvenProbability(m, ttl);
}

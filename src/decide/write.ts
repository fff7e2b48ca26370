import { expectedReads, type WriteTtl, writeValue } from "../economics/breakEven.ts";
import type { ModelInfo } from "../economics/models.ts";
import type { Reuse } from "./reuse.ts";

/** The TTL whose expected value is highest and positive, or null when no write pays. */
export function bestTtl(m: ModelInfo, tokens: number, reuse: Reuse, allow1h: boolean): WriteTtl | null {
  const v5 = writeValue(m, "5m", tokens, expectedReads(reuse.p5m, reuse.once));
  const v1 = allow1h
    ? writeValue(m, "1h", tokens, expectedReads(reuse.p1h, reuse.once))
    : Number.NEGATIVE_INFINITY;
  if (v5 <= 0 && v1 <= 0) return null;
  return v1 > v5 ? "1h" : "5m";
}

/** A prefix a request could write up to: its position, the tokens it would add, and its expected reuse. */
export interface WriteOption<R extends string> {
  at: number;
  role: R;
  /** Tokens the write would add beyond what is read or written anyway. */
  addedTokens: number;
  reuse: Reuse;
}

/**
 * Admission: the furthest option whose own expected reuse pays for writing what it adds, with its TTL, or
 * null when none pays. A deeper prefix is used at most as often as the ones it extends, so the options are
 * tried from the furthest back.
 */
export function chooseWrite<R extends string>(
  m: ModelInfo,
  options: readonly WriteOption<R>[],
  allow1h: boolean,
): { option: WriteOption<R>; ttl: WriteTtl } | null {
  const sorted = [...options].sort((x, y) => y.at - x.at);
  for (const option of sorted) {
    const ttl = bestTtl(m, option.addedTokens, option.reuse, allow1h);
    if (ttl) return { option, ttl };
  }
  return null;
}

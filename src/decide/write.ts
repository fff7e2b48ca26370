import { expectedReads, readSaving, TTL_MS, type WriteTtl, writePremium } from "../economics/breakEven.ts";
import type { ModelInfo } from "../economics/models.ts";
import type { Reuse } from "./reuse.ts";

/**
 * How a write is meant to last: a 5m entry left to lapse, a 5m entry held by keepalive pings while its
 * return is still likely, or a 1h entry. The first two write alike; the plan names which one won.
 */
export type Lasting = "5m" | "5m+pings" | "1h";

export interface TtlChoice {
  ttl: WriteTtl;
  lasting: Lasting;
  /** Expected gain in tokens at the base price (negative: a loss). */
  gain: number;
}

/**
 * The sizes a write is judged by, in prompt tokens: what it adds beyond what is read anyway (the premium is
 * paid on these), what a lapse would lose (everything through the entry not held longer by an earlier
 * entry: a return after the lapse pays it again), and the whole prefix (what a keepalive ping reads).
 */
export interface WriteSize {
  added: number;
  exposed: number;
  total: number;
}

const sizeOf = (tokens: number): WriteSize => ({ added: tokens, exposed: tokens, total: tokens });

/**
 * For each write, compare 5m now, 5m held by the chain of pings that pays best, and 1h, and keep the best
 * that gains anything (null when none does). For an entry read once (a conversation tail) with a known
 * return distribution, a return within the first 5 minutes saves the tokens written, and a return later
 * saves everything the lapse would have lost, which is what 1h and pings buy; each ping reads the whole
 * prefix, and is sent only while no return has come. An entry read again and again (a shared head) is
 * judged by its expected reads per TTL.
 */
export function chooseTtl(m: ModelInfo, reuse: Reuse, allow1h: boolean, size: WriteSize): TtlChoice | null {
  const save = readSaving(m);
  const options: TtlChoice[] = [];
  const w = reuse.windows;
  if (reuse.once && w) {
    const soon = save * size.added * (w[0] ?? 0);
    options.push({ ttl: "5m", lasting: "5m", gain: soon - writePremium(m, "5m") * size.added });
    const maxPings = Math.min(w.length - 1, Math.floor((m.cacheWrite5m - m.cacheRead) / m.cacheRead + 1e-9));
    let later = 0;
    let waiting = 1 - (w[0] ?? 0);
    let pings = 0;
    for (let k = 1; k <= maxPings; k++) {
      pings += m.cacheRead * size.total * Math.max(waiting, 0);
      later += w[k] ?? 0;
      waiting -= w[k] ?? 0;
      options.push({
        ttl: "5m",
        lasting: "5m+pings",
        gain: soon + save * size.exposed * later - writePremium(m, "5m") * size.added - pings,
      });
    }
    if (allow1h) {
      const within = w.reduce((a, b) => a + b, 0) - (w[0] ?? 0);
      options.push({
        ttl: "1h",
        lasting: "1h",
        gain: soon + save * size.exposed * within - writePremium(m, "1h") * size.added,
      });
    }
  } else if (reuse.once) {
    const perUse = (p: number, ttl: WriteTtl) => save * expectedReads(p, true) - writePremium(m, ttl);
    options.push({ ttl: "5m", lasting: "5m", gain: size.added * perUse(reuse.p5m, "5m") });
    if (allow1h) options.push({ ttl: "1h", lasting: "1h", gain: size.added * perUse(reuse.p1h, "1h") });
  } else {
    // Per use of the entry: each use reads with the chance of a return within the TTL and rewrites
    // otherwise (a 1h entry would be credited per write with uses a 5m entry meets again after rewriting).
    const q = Math.min(Math.max(reuse.p5m, 0), 1);
    const gain5m = size.added * (save * q - writePremium(m, "5m") * (1 - q));
    options.push({ ttl: "5m", lasting: "5m", gain: gain5m });
    if (allow1h)
      options.push({ ttl: "1h", lasting: "1h", gain: gain5m + size.added * hourOverFive(m, reuse) });
  }
  let best: TtlChoice | null = null;
  // A tie (within rounding: a head that never lapses either way) keeps the cheaper write, listed first.
  for (const o of options) if (o.gain > 0 && (!best || o.gain > best.gain + 1e-9 * size.added)) best = o;
  return best;
}

/**
 * What writing an entry used again and again for 1h instead of 5m gains, per token. The 1h premium is paid
 * now for certain; a 5m entry loses only at a lapse between 5 minutes and the hour (a gap beyond the hour, or
 * no return, loses either entry), and only at the first such lapse, as the rewrite then can choose 1h. Each
 * gap falls within 5 minutes (p5m), between (p1h - p5m) or beyond (the entry's uses end); the chance that a
 * gap between comes before the uses end, within the hour's `SHORT_GAPS_PER_HOUR` short gaps, is what 1h
 * buys (or `reuse.lapse`, where a rate gives it). A head asked about every few seconds is written for 5m
 * though a trace of doubt about its gaps remains; one whose gaps are minutes to an hour, for 1h.
 */
export function hourOverFive(m: ModelInfo, reuse: Reuse): number {
  const short = Math.min(Math.max(reuse.p5m, 0), 1);
  const between = Math.min(Math.max(reuse.p1h - short, 0), 1 - short);
  const lapse =
    reuse.lapse !== undefined
      ? Math.min(Math.max(reuse.lapse, 0), 1)
      : short < 1
        ? (between * (1 - short ** SHORT_GAPS_PER_HOUR)) / (1 - short)
        : 0;
  return lapse * (readSaving(m) + writePremium(m, "1h")) - (writePremium(m, "1h") - writePremium(m, "5m"));
}

/** Gaps within 5 minutes an hour holds, each taken at the middle of its window (2.5 minutes). */
export const SHORT_GAPS_PER_HOUR = TTL_MS["1h"] / (TTL_MS["5m"] / 2);

/** The TTL whose expected value is highest and positive, or null when no write pays. */
export function bestTtl(m: ModelInfo, tokens: number, reuse: Reuse, allow1h: boolean): WriteTtl | null {
  return tokens > 0 ? (chooseTtl(m, reuse, allow1h, sizeOf(tokens))?.ttl ?? null) : null;
}

/** A prefix a request could write up to: its position, the tokens it would add, and its expected reuse. */
export interface WriteOption<R extends string> {
  at: number;
  role: R;
  /** Tokens the write would add beyond what is read or written anyway. */
  addedTokens: number;
  /** Tokens a lapse would lose and the whole prefix (default: the added tokens). */
  exposedTokens?: number;
  totalTokens?: number;
  reuse: Reuse;
}

/**
 * Admission: the furthest option whose own expected reuse pays for writing what it adds, with its TTL and
 * expected gain (tokens at the base price), or null when none pays. A deeper prefix is used at most as often
 * as the ones it extends, so the options are tried from the furthest back.
 */
export function chooseWrite<R extends string>(
  m: ModelInfo,
  options: readonly WriteOption<R>[],
  allow1h: boolean,
): { option: WriteOption<R>; ttl: WriteTtl; lasting: Lasting; gain: number } | null {
  const sorted = [...options].sort((x, y) => y.at - x.at);
  for (const option of sorted) {
    if (option.addedTokens <= 0) continue;
    const choice = chooseTtl(m, option.reuse, allow1h, {
      added: option.addedTokens,
      exposed: Math.max(option.exposedTokens ?? 0, option.addedTokens),
      total: Math.max(option.totalTokens ?? 0, option.addedTokens),
    });
    if (choice) return { option, ttl: choice.ttl, lasting: choice.lasting, gain: choice.gain };
  }
  return null;
}

import { expectedReads, readSaving, type WriteTtl, writePremium } from "../economics/breakEven.ts";
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
  } else {
    // Per use of the entry: each use reads with the chance of a return within the TTL and rewrites
    // otherwise. A 1h entry outlives more uses than a 5m one, so per write it would be credited with uses a
    // 5m entry meets again after rewriting.
    const perUse = (p: number, ttl: WriteTtl) => {
      if (reuse.once) return save * expectedReads(p, true) - writePremium(m, ttl);
      const q = Math.min(Math.max(p, 0), 1);
      return save * q - writePremium(m, ttl) * (1 - q);
    };
    options.push({ ttl: "5m", lasting: "5m", gain: size.added * perUse(reuse.p5m, "5m") });
    if (allow1h) options.push({ ttl: "1h", lasting: "1h", gain: size.added * perUse(reuse.p1h, "1h") });
  }
  let best: TtlChoice | null = null;
  // A tie (within rounding: a head that never lapses either way) keeps the cheaper write, listed first.
  for (const o of options) if (o.gain > 0 && (!best || o.gain > best.gain + 1e-9 * size.added)) best = o;
  return best;
}

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

import { type Reuse, reuseOf, scaledReuse } from "../decide/reuse.ts";
import { bestTtl, chooseTtl, chooseWrite, type WriteOption } from "../decide/write.ts";
import type { WriteTtl } from "../economics/breakEven.ts";
import { modelInfo } from "../economics/models.ts";
import type { Analysis, CacheTtl, Segment } from "../prefix/types.ts";
import { newTokensOf } from "./new-tokens.ts";
import type { AnthropicPlan, PlanContext, PlannedBreakpoint, PrefixState } from "./types.ts";

/** At most this many breakpoints per request, the client's and the automatic one included. */
export const MAX_BREAKPOINTS = 4;
/** A breakpoint finds entries at most this many block positions before it (itself included). */
export const LOOKBACK = 20;

const rank = (ttl: CacheTtl | WriteTtl): number => (ttl === "1h" ? 1 : 0);

/** How the provider counts a breakpoint, where it differs from Anthropic's API. */
export interface AnthropicPlanOptions {
  /**
   * Amazon Bedrock (Converse, and InvokeModel's Anthropic body): a cache checkpoint caches only where the
   * tokens since the previous checkpoint reach the model's minimum ("the first cache checkpoint can be
   * defined after 1,024 tokens and the second cache checkpoint can be defined after 2,048 tokens",
   * docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html, "How it works"); one placed closer is
   * accepted and caches nothing. Anthropic's API counts only the prefix's length.
   */
  spacedCheckpoints?: boolean;
}

interface Fixed {
  segment: number;
  ttl: WriteTtl;
}

/**
 * Plans Anthropic breakpoints: keep every client marker, then, within the 4-breakpoint budget, write the
 * furthest prefix whose expected reuse pays the write premium, read the longest prefix believed warm,
 * refresh the stable head, and bridge to where the previous turn wrote when the lookback would miss it.
 */
export function planAnthropic(
  a: Analysis,
  known: ReadonlyMap<string, PrefixState>,
  ctx: PlanContext,
  opts: AnthropicPlanOptions = {},
): AnthropicPlan {
  const m = ctx.model ?? modelInfo(a.model, ctx.models, "anthropic");
  const segs = a.segments;
  const ratio = ctx.calibration?.ratio ?? 1;
  const tokensAt = (i: number): number => Math.round((segs[i]?.cumulativeTokens ?? 0) * ratio);
  const plan: AnthropicPlan = {
    upstream: "anthropic",
    breakpoints: [],
    clientBreakpoints: a.clientBreakpoints.length,
    autoCache: a.autoCache !== null,
    expected: { readTokens: 0, writeTokens: 0 },
    notes: [],
  };

  // The client's markers, with automatic mode as one more on the last cacheable block.
  const fixed: Fixed[] = a.clientBreakpoints.map((b) => ({
    segment: b.segment,
    ttl: b.ttl === "1h" ? "1h" : "5m",
  }));
  const autoTarget = lastIndex(segs, (s) => s.breakpointable);
  if (a.autoCache !== null && autoTarget >= 0)
    fixed.push({ segment: autoTarget, ttl: a.autoCache === "1h" ? "1h" : "5m" });
  fixed.sort((x, y) => x.segment - y.segment);
  const stateAt = (i: number): PrefixState | undefined => {
    const h = segs[i]?.hash;
    return h === undefined ? undefined : known.get(h);
  };
  const warm = lastIndex(segs, (s) => {
    const st = s.hash === undefined ? undefined : known.get(s.hash);
    return s.breakpointable && st?.cachedUntilMs != null && st.cachedUntilMs > ctx.nowMs;
  });
  const forced = fixed.length > 0 ? (fixed[fixed.length - 1]?.segment ?? -1) : -1;
  plan.expected = expectation(tokensAt, warm, forced);

  if (ctx.tenant.disabled) return note(plan, "disabled");
  const slots = MAX_BREAKPOINTS - fixed.length;
  if (slots <= 0) return note(plan, "client-uses-all-breakpoints");
  if (!ordered(fixed)) return note(plan, "client-ttl-order-invalid");

  const marked = new Set(fixed.map((f) => f.segment));
  const fixedAt = fixed.map((f) => f.segment);
  // Bedrock: a point counts only with the minimum since the point before it, and must leave the minimum to
  // the point after it (else that one, perhaps the client's, stops caching). Measured from every point
  // placed, counting or not, so it holds under either reading of "the previous checkpoint".
  const spaced = opts.spacedCheckpoints === true;
  let spacingRefused = false;
  const fits = (i: number, points: readonly number[]): boolean => {
    if (!spaced) return true;
    const t = tokensAt(i);
    let before = 0;
    let after = Number.POSITIVE_INFINITY;
    for (const p of points) {
      if (p < i) before = Math.max(before, tokensAt(p));
      else if (p > i) after = Math.min(after, tokensAt(p));
    }
    return t - before >= m.minCacheableTokens && after - t >= m.minCacheableTokens;
  };
  const eligible = (i: number): boolean => {
    const s = segs[i];
    return (
      s?.breakpointable === true &&
      s.hash !== undefined &&
      !marked.has(i) &&
      tokensAt(i) >= m.minCacheableTokens &&
      fits(i, fixedAt)
    );
  };
  const allow1h = ctx.tenant.allow1h !== false;
  const head = lastIndex(segs, (_s, i) => i <= a.headEnd && eligible(i));
  const tail = lastIndex(segs, (_s, i) => eligible(i));
  const seen = lastIndex(segs, (_s, i) => i > warm && eligible(i) && (stateAt(i)?.seen ?? 0) >= 1);

  const headReuse = reuseOf.head(stateAt(head), ctx.familyRatePerMin, ctx.outlook, ctx.nowMs);
  const newTokens = newTokensOf(a, (i) => (stateAt(i)?.seen ?? 0) > 0, tokensAt);
  const tailReuse = reuseOf.tail(stateAt(tail), a.continues, ctx.outlook, newTokens);
  const seenReuse = seen === head ? headReuse : reuseOf.seen(stateAt(seen), newTokens);
  // Where the family's returns have been seen to continue from: the request's last position, or one a little
  // before it (a next turn that replaces the last message). Each is worth its share of the returns.
  const hashed = segs.flatMap((s, i) => (s.hash !== undefined ? [i] : []));
  const reach = ctx.outlook?.reach;
  const fromEnd = (k: number): number => hashed.at(-1 - k) ?? -1;
  const newTail = reuseOf.tail(undefined, a.continues, ctx.outlook, newTokens);
  const tailOption =
    reach && tail === fromEnd(0) && !(stateAt(tail)?.seen ?? 0)
      ? scaled(tailReuse, reach[0] ?? 0)
      : tailReuse;
  const before: { at: number; reuse: Reuse }[] = [];
  if (reach)
    for (let k = 1; k < reach.length; k++) {
      const at = fromEnd(k);
      if (at >= 0 && eligible(at) && at !== tail && at !== seen && !(stateAt(at)?.seen ?? 0))
        before.push({ at, reuse: scaled(newTail, reach[k] ?? 0) });
    }

  // The write extent: the furthest candidate whose own reuse pays for writing it beyond what is read anyway.
  const base = Math.max(warm, forced);
  const options: WriteOption<"head" | "seen" | "tail" | "pre">[] = [];
  // A lapse loses everything through the entry except what an earlier 1h entry still holds (a warm one, or
  // one the client's own 1h markers write) and the head, which is an entry of its own whose TTL its own
  // traffic decides.
  const held = Math.max(
    warm >= 0 && stateAt(warm)?.ttl === "1h" ? tokensAt(warm) : 0,
    ...fixed.filter((f) => f.ttl === "1h").map((f) => tokensAt(f.segment)),
    head >= 0 ? tokensAt(head) : 0,
  );
  const sized = (at: number) => ({
    addedTokens: tokensAt(at) - tokensAt(base),
    exposedTokens: tokensAt(at) - held,
    totalTokens: tokensAt(at),
  });
  if (tail > base) options.push({ at: tail, ...sized(tail), reuse: tailOption, role: "tail" });
  for (const b of before)
    if (b.at > base) options.push({ at: b.at, ...sized(b.at), reuse: b.reuse, role: "pre" });
  if (seen > base && seenReuse) options.push({ at: seen, ...sized(seen), reuse: seenReuse, role: "seen" });
  if (head > base) options.push({ at: head, ...sized(head), reuse: headReuse, role: "head" });
  let choice = chooseWrite(m, options, allow1h);
  // Bedrock: when the write's point and the head's own point cannot both count, the two plans share the
  // head's tokens (this conversation's next turn reads them either way) and differ in the rest: the write
  // gains what it caches beyond the head for this conversation, the head's own point gains what its entry is
  // worth to the family's other conversations (nothing when it is warm already; all of its own value
  // otherwise, the less favourable reading for the write). Keep the write only when it gains more.
  if (
    spaced &&
    choice &&
    head >= 0 &&
    choice.option.at > head &&
    !fits(head, [...fixedAt, choice.option.at])
  ) {
    spacingRefused = true;
    const at = choice.option.at;
    const beyond = chooseTtl(m, choice.option.reuse, allow1h, {
      added: tokensAt(at) - tokensAt(Math.max(head, base)),
      exposed: Math.max(choice.option.exposedTokens ?? 0, tokensAt(at) - tokensAt(Math.max(head, base))),
      total: tokensAt(at),
    });
    const headOwn =
      head > base
        ? chooseWrite(
            m,
            options.filter((o) => o.role === "head"),
            allow1h,
          )
        : null;
    // With nothing that pays beside the head, the write stands (it pays as a whole).
    const beside =
      (headOwn?.gain ?? 0) >= (beyond?.gain ?? 0)
        ? chooseWrite(
            m,
            options.filter((o) => o.at === head || fits(o.at, [...fixedAt, head])),
            allow1h,
          )
        : null;
    if (beside) choice = beside;
  }
  // Bedrock: a write whose lookback misses the warm entry, with no room for a read point at the entry, would
  // write everything again (at the write premium) instead of reading it: read it, and write only where a
  // point still fits after it.
  const reaches = (from: number, to: number): boolean =>
    from >= to && (segs[from]?.position ?? 0) - (segs[to]?.position ?? 0) < LOOKBACK;
  if (
    spaced &&
    choice &&
    warm >= 0 &&
    !marked.has(warm) &&
    !reaches(choice.option.at, warm) &&
    !fixedAt.some((f) => reaches(f, warm)) &&
    !fits(warm, [...fixedAt, choice.option.at])
  ) {
    spacingRefused = true;
    choice = chooseWrite(
      m,
      options.filter((o) => fits(o.at, [...fixedAt, warm])),
      allow1h,
    );
  }
  const write: PlannedBreakpoint | null = choice
    ? {
        segment: choice.option.at,
        ttl: choice.ttl,
        role: choice.option.role,
        tokens: tokensAt(choice.option.at),
      }
    : null;
  if (!write && options.length > 0) plan.notes.push("no-write-pays");
  if (choice)
    plan.lasting = { lasting: choice.lasting, p5m: choice.option.reuse.p5m, p1h: choice.option.reuse.p1h };

  const chosen: PlannedBreakpoint[] = [];
  const room = (i: number): boolean => {
    const ok = fits(i, [...fixedAt, ...chosen.map((c) => c.segment)]);
    if (!ok) spacingRefused = true;
    return ok;
  };
  const covered = (i: number): boolean =>
    [...chosen.map((c) => c.segment), ...fixed.map((f) => f.segment)].some(
      (b) => b >= i && (segs[b]?.position ?? 0) - (segs[i]?.position ?? 0) < LOOKBACK,
    );
  const extent = Math.max(write?.segment ?? -1, forced, warm);
  if (write) chosen.push(write);
  if (warm >= 0 && !marked.has(warm) && !covered(warm) && chosen.length < slots && room(warm)) {
    chosen.push({ segment: warm, ttl: entryTtl(stateAt(warm)), role: "read", tokens: tokensAt(warm) });
  }
  // A position seen before inside the written range costs nothing to mark, and the next request that shares
  // it (the same history with another last message) reads it instead of rewriting everything. The head is
  // marked below, for as long as its own traffic says.
  if (
    seen > warm &&
    seen !== head &&
    seen <= extent &&
    !chosen.some((c) => c.segment === seen) &&
    chosen.length < slots &&
    room(seen)
  ) {
    chosen.push({ segment: seen, ttl: write?.ttl ?? "5m", role: "seen", tokens: tokensAt(seen) });
  }
  // The other places a return may continue from, inside the written range: free to mark, and each one the
  // next request finds is a read instead of a rewrite.
  for (const b of before)
    if (
      b.at > warm &&
      b.at <= extent &&
      !chosen.some((c) => c.segment === b.at) &&
      chosen.length < slots - 1 &&
      room(b.at)
    )
      chosen.push({ segment: b.at, ttl: write?.ttl ?? "5m", role: "pre", tokens: tokensAt(b.at) });
  if (
    head >= 0 &&
    head <= extent &&
    !chosen.some((c) => c.segment === head) &&
    chosen.length < slots &&
    room(head)
  ) {
    const ttl =
      head <= warm ? entryTtl(stateAt(head)) : (bestTtl(m, tokensAt(head), headReuse, allow1h) ?? "5m");
    chosen.push({ segment: head, ttl, role: "head", tokens: tokensAt(head) });
  }
  const bridge = a.previousTurnEnd;
  if (
    bridge >= 0 &&
    eligible(bridge) &&
    bridge <= extent &&
    !covered(bridge) &&
    chosen.length < slots &&
    room(bridge)
  ) {
    chosen.push({
      segment: bridge,
      ttl: entryTtl(stateAt(bridge)),
      role: "bridge",
      tokens: tokensAt(bridge),
    });
  }

  if (spacingRefused) plan.notes.push("checkpoint-spacing");
  plan.breakpoints = orderTtls(chosen, fixed);
  const last = Math.max(forced, ...plan.breakpoints.map((b) => b.segment));
  plan.expected = expectation(tokensAt, warm, last);
  return plan;
}

function note(plan: AnthropicPlan, why: string): AnthropicPlan {
  plan.notes.push(why);
  return plan;
}

function lastIndex(segs: readonly Segment[], test: (s: Segment, i: number) => boolean): number {
  for (let i = segs.length - 1; i >= 0; i--) if (test(segs[i] as Segment, i)) return i;
  return -1;
}

function entryTtl(state: PrefixState | undefined): WriteTtl {
  return state?.ttl === "1h" ? "1h" : "5m";
}

/** Longer TTLs must come before shorter ones. */
function ordered(bps: readonly Fixed[]): boolean {
  for (let i = 1; i < bps.length; i++)
    if (rank((bps[i] as Fixed).ttl) > rank((bps[i - 1] as Fixed).ttl)) return false;
  return true;
}

/**
 * Makes the TTLs legal around the client's markers: after a client 5m marker ours are 5m; before any 1h
 * marker ours become 1h (free: those tokens are written at 1h by the later marker anyway).
 */
function orderTtls(chosen: PlannedBreakpoint[], fixed: readonly Fixed[]): PlannedBreakpoint[] {
  const out = chosen.map((c) => ({ ...c })).sort((x, y) => x.segment - y.segment);
  for (const c of out) {
    if (fixed.some((f) => f.segment < c.segment && f.ttl === "5m")) c.ttl = "5m";
  }
  let later = 0;
  const all = [...out.map((c) => ({ seg: c.segment, c })), ...fixed.map((f) => ({ seg: f.segment, f }))].sort(
    (x, y) => y.seg - x.seg,
  );
  for (const item of all) {
    if ("c" in item && item.c) {
      if (rank(item.c.ttl) < later) item.c.ttl = "1h";
      later = Math.max(later, rank(item.c.ttl));
    } else if ("f" in item && item.f) later = Math.max(later, rank(item.f.ttl));
  }
  return out;
}

function expectation(tokensAt: (i: number) => number, warm: number, last: number) {
  const readTokens = warm >= 0 ? tokensAt(warm) : 0;
  const writeTokens = last > warm ? tokensAt(last) - readTokens : 0;
  return { readTokens, writeTokens };
}

/** A reuse estimate for a position only a share of the returns send again. */
function scaled(r: Reuse, share: number): Reuse {
  return scaledReuse(r, Math.min(Math.max(share, 0), 1));
}

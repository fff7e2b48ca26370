import { TTL_MS } from "../../src/economics/breakEven.ts";
import type { ModelInfo } from "../../src/economics/models.ts";
import type { ReplayResult } from "./engine.ts";
import type { Trace } from "./trace.ts";

/**
 * The per-block offline optimum: a lower bound that knows every future arrival.
 *
 * Exact model. Each block is priced on its own (a block is never held back by its parent, which is what makes
 * this a bound rather than a policy). A block is used at times u1 < u2 < ... < um (every request that holds
 * it). After each use it is in one of three states: not cached, cached at 5m, cached at 1h. A dynamic program
 * over the uses takes the cheapest path:
 * - the first use costs 1 (sent uncached), w5 (written at 5m) or w1h (written at 1h);
 * - a later use, after gap g, costs
 *   - 1, w5 or w1h from any state (let it lapse, then send uncached or write anew), or
 *   - from a cached state of TTL T: a read r, plus r for each ping needed to bridge the gap,
 *     max(0, ceil(g / T) - 1) pings (each ping at a lapse restarts the TTL; g <= T needs none);
 *     the block stays in its state (a read keeps the TTL it was written with);
 * - after the last use nothing more is paid (no pings: the future is known).
 * Under automatic caching (OpenAI style) there is no 1h state and every use that does not read writes, at
 * the write price. `firstUse: "uncached"` forces the first use to be sent uncached: what is left of the
 * optimum once the first-sight decision is ruled out (a yardstick for online policies, which cannot know at
 * a block's first use whether it will return; not a strict bound for one that guesses right per block). Pings are counted per block (the optimum has no prefixes to group them by).
 */
export function offlineOptimum(
  trace: Trace,
  model: ModelInfo,
  firstUse: "free" | "uncached" = "free",
): ReplayResult {
  // Per block, the positions (in trace order) of the requests that hold it.
  const uses = new Map<number, number[]>();
  for (const [j, req] of trace.requests.entries()) {
    for (const id of req.ids) {
      let list = uses.get(id);
      if (!list) {
        list = [];
        uses.set(id, list);
      }
      list.push(j);
    }
  }
  const at = (j: number): number => (trace.requests[j] as { atMs: number }).atMs;
  const requestReads = new Float64Array(trace.requests.length);
  const requestCost = new Float64Array(trace.requests.length);
  const automatic = model.cacheStyle === "openai-implicit";
  const r = model.cacheRead;
  const w5 = model.cacheWrite5m;
  const w1h = automatic ? Number.POSITIVE_INFINITY : model.cacheWrite1h;
  const uncached = automatic ? w5 : 1;
  const pingsFor = (gap: number, ttl: number): number => Math.max(0, Math.ceil(gap / ttl - 1e-12) - 1);
  let cost = 0;
  let reads = 0;
  let pings = 0;
  let pingCost = 0;
  for (const [id, held] of uses) {
    // Per state (none, 5m, 1h): the cheapest path so far, with its reads and pings.
    const blind = firstUse === "uncached";
    let d: Path[] = [
      path(uncached),
      path(blind ? Number.POSITIVE_INFINITY : w5),
      path(blind ? Number.POSITIVE_INFINITY : w1h),
    ];
    for (let k = 1; k < held.length; k++) {
      const gap = at(held[k] as number) - at(held[k - 1] as number);
      const best = cheapest(d);
      const stay = (s: 1 | 2, ttl: number): Path => {
        const p = d[s] as Path;
        const n = pingsFor(gap, ttl);
        const unit = r * (1 + n);
        return {
          cost: p.cost + unit,
          reads: p.reads + 1,
          pings: p.pings + n,
          trail: { use: k, unit, read: true, prev: p.trail },
        };
      };
      const anew = (price: number): Path => ({
        cost: best.cost + price,
        reads: best.reads,
        pings: best.pings,
        trail: { use: k, unit: price, read: false, prev: best.trail },
      });
      d = [
        anew(uncached),
        cheapest([anew(w5), stay(1, TTL_MS["5m"])]),
        cheapest([anew(w1h), stay(2, TTL_MS["1h"])]),
      ];
    }
    const tokens = trace.blockTokens[id] ?? 0;
    const best = cheapest(d);
    cost += best.cost * tokens;
    reads += best.reads * tokens;
    pings += best.pings;
    pingCost += best.pings * r * tokens;
    // Each use's cost, its pings included, is booked at that use (for the TTFT and the cost over time).
    for (let t: Trail | null = best.trail; t; t = t.prev) {
      const j = held[t.use] as number;
      requestCost[j] = (requestCost[j] as number) + t.unit * tokens;
      if (t.read) requestReads[j] = (requestReads[j] as number) + tokens;
    }
  }
  const timeline = new Float64Array(trace.requests.length);
  let sum = 0;
  for (const [j, c] of requestCost.entries()) {
    sum += c;
    timeline[j] = sum / trace.totalInputTokens;
  }
  const total = trace.totalInputTokens;
  return {
    policy:
      firstUse === "free"
        ? "per-block offline optimum (knows the future)"
        : "per-block optimum blind at first sight (first use uncached, knows the rest)",
    cost: cost / total,
    readTokens: reads,
    write5mTokens: Number.NaN,
    write1hTokens: Number.NaN,
    pings,
    pingCost: pingCost / total,
    prefixPingCost: Number.NaN,
    totalInputTokens: total,
    requestReads,
    timeline,
  };
}

/** One use's choice on a path, linked back to the previous use's. */
interface Trail {
  use: number;
  unit: number;
  read: boolean;
  prev: Trail | null;
}

interface Path {
  cost: number;
  reads: number;
  pings: number;
  trail: Trail | null;
}

const path = (cost: number): Path => ({
  cost,
  reads: 0,
  pings: 0,
  trail: { use: 0, unit: cost, read: false, prev: null },
});

function cheapest(paths: readonly Path[]): Path {
  let best = paths[0] as Path;
  for (const p of paths) if (p.cost < best.cost) best = p;
  return best;
}

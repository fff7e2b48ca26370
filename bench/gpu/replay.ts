import { type EngineOptions, KvEngine } from "../../sim/gpu/engine.ts";
import type { Router } from "./policies.ts";
import type { BenchRequest } from "./trace.ts";

/** What one policy did over the trace. */
export interface ReplayResult {
  name: string;
  /** Cached prompt tokens / prompt tokens, over all requests. */
  hitRate: number;
  ttftP50Ms: number;
  ttftP90Ms: number;
  ttftP99Ms: number;
  meanTtftMs: number;
  /** Busiest backend's prefill work over the mean backend's (1 = perfectly even). */
  prefillImbalance: number;
  /** Busiest backend's requests over the mean backend's. */
  requestImbalance: number;
  /** Highest in-flight count any backend reached. */
  peakInflight: number;
  /** Modelled TTFT of every request, in trace order (for the plot). */
  ttfts: Float64Array;
}

interface Pending {
  at: number;
  r: BenchRequest;
  b: number;
  cached: number;
}

/**
 * Replays the trace through `router` on `n` simulated backends, on a virtual clock (no sleeping): each
 * arrival first ends the requests that finished before it (the router hears of them, as the pool object hears
 * of a stream's end), then is routed and admitted by the chosen backend's engine, which gives its TTFT.
 */
export function replay(
  trace: readonly BenchRequest[],
  router: Router,
  n: number,
  engine: EngineOptions,
): ReplayResult {
  const engines = Array.from({ length: n }, () => new KvEngine<number>(engine));
  const inflight = new Array<number>(n).fill(0);
  const requests = new Array<number>(n).fill(0);
  const pending: Pending[] = []; // a binary heap on `at`
  const ttfts = new Float64Array(trace.length);
  let peak = 0;
  const push = (p: Pending) => {
    pending.push(p);
    let i = pending.length - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if ((pending[up] as Pending).at <= p.at) break;
      pending[i] = pending[up] as Pending;
      i = up;
    }
    pending[i] = p;
  };
  const pop = (): Pending => {
    const top = pending[0] as Pending;
    const last = pending.pop() as Pending;
    if (pending.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        const at = (k: number) => (k === i ? last.at : (pending[k] as Pending).at);
        if (l < pending.length && at(l) < at(m)) m = l;
        if (r < pending.length && at(r) < at(m)) m = r;
        if (m === i) break;
        pending[i] = pending[m] as Pending;
        i = m;
      }
      pending[i] = last;
    }
    return top;
  };

  trace.forEach((r, k) => {
    while (pending.length > 0 && (pending[0] as Pending).at <= r.atMs) {
      const p = pop();
      inflight[p.b] = (inflight[p.b] as number) - 1;
      router.done(p.r, p.b, p.cached, p.at);
    }
    const b = router.route(r, r.atMs, inflight);
    inflight[b] = (inflight[b] as number) + 1;
    requests[b] = (requests[b] as number) + 1;
    peak = Math.max(peak, inflight[b] as number);
    const adm = (engines[b] as KvEngine<number>).submit(
      { blocks: r.kvBlocks, promptTokens: r.promptTokens, outputTokens: r.outputTokens },
      r.atMs,
    );
    ttfts[k] = adm.firstTokenAt - r.atMs;
    push({ at: adm.doneAt, r, b, cached: adm.cachedTokens });
  });

  let prompt = 0;
  let cached = 0;
  const busy = engines.map((e) => e.stats.prefillBusyMs);
  for (const e of engines) {
    prompt += e.stats.promptTokens;
    cached += e.stats.cachedTokens;
  }
  const sorted = Float64Array.from(ttfts).sort();
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
  const mean = (xs: readonly number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
  return {
    name: router.name,
    hitRate: cached / prompt,
    ttftP50Ms: q(0.5),
    ttftP90Ms: q(0.9),
    ttftP99Ms: q(0.99),
    meanTtftMs: ttfts.reduce((a, x) => a + x, 0) / ttfts.length,
    prefillImbalance: Math.max(...busy) / mean(busy),
    requestImbalance: Math.max(...requests) / mean(requests),
    peakInflight: peak,
    ttfts,
  };
}

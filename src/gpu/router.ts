/**
 * Stoker's choice of backend for one GPU request: the longest cached prefix, within a load bound. Pure.
 *
 * 1. Eligible: backends not excluded (already tried for this request) and healthy; when none is healthy,
 *    every backend not excluded (the one to recover soonest is as good a guess as failing the request).
 * 2. Bound (consistent hashing with bounded loads, Mirrokni et al. 2018, applied to in-flight requests): with
 *    this request counted, backend b may hold at most ceil((1 + ε) · mean · w_b / w̄) requests, the mean
 *    being over the eligible backends. A backend at its bound is skipped, so no backend ever exceeds
 *    (1 + ε) x the mean (rounded up) because of Stoker.
 * 3. Among the backends under the bound, the one where the request should see its first token soonest: the
 *    backend's estimated prefill queue plus the prefill of what it does not hold. So the longest match wins
 *    unless its queue costs more than the prefill it saves (a match of m chunks is worth m · 256 tokens of
 *    prefill). Ties: the longer match, the least loaded, then the request's own rotation. Without queue
 *    estimates (`waitMs` absent) the longest match wins outright; with no match anywhere, the least loaded.
 * 4. When every eligible backend is at its bound (only possible with unequal weights), the least loaded.
 */

export interface BackendView {
  weight: number;
  inflight: number;
  healthy: boolean;
  /** Already tried for this request. */
  excluded: boolean;
  /** Leading chunks of the request this backend is believed to hold. */
  match: number;
  /** Estimated time until this backend could start the request's prefill (its prefill queue). */
  waitMs?: number;
  /** Estimated prefill time of the request on this backend (what it does not hold). */
  prefillMs?: number;
}

/**
 * prefix: the longest match won; queue: a shorter match won on a shorter queue; spill: the longest match was
 * at its load bound; least-loaded: nothing matched; unhealthy: no healthy backend was left.
 */
export type RouteReason = "prefix" | "queue" | "least-loaded" | "spill" | "unhealthy";

export interface RouteChoice {
  backend: number;
  reason: RouteReason;
  /** The chunks matched on the chosen backend. */
  match: number;
  /** The longest match on any eligible backend (greater than `match` when the load bound moved the request). */
  bestMatch: number;
}

/** The most in-flight requests backend b may hold with the new request counted. */
export function loadBound(
  views: readonly BackendView[],
  eligible: readonly number[],
  b: number,
  epsilon: number,
) {
  let weights = 0;
  let load = 1;
  for (const i of eligible) {
    const v = views[i] as BackendView;
    weights += v.weight;
    load += v.inflight;
  }
  const share = (views[b] as BackendView).weight / weights;
  return Math.max(1, Math.ceil((1 + epsilon) * load * share - 1e-9));
}

/** Picks a backend, or null when every backend is excluded. `rotation` breaks ties (e.g. from the first chunk). */
export function chooseBackend(
  views: readonly BackendView[],
  epsilon: number,
  rotation = 0,
): RouteChoice | null {
  const n = views.length;
  let eligible = views.flatMap((v, i) => (!v.excluded && v.healthy ? [i] : []));
  let unhealthy = false;
  if (eligible.length === 0) {
    eligible = views.flatMap((v, i) => (!v.excluded ? [i] : []));
    unhealthy = true;
  }
  if (eligible.length === 0) return null;
  const order = (i: number) => (i - (rotation % n) + n) % n;
  const pressure = (i: number) => ((views[i] as BackendView).inflight + 1) / (views[i] as BackendView).weight;
  const better = (a: number, b: number) =>
    pressure(a) < pressure(b) || (pressure(a) === pressure(b) && order(a) < order(b));

  let bestMatch = 0;
  for (const i of eligible) bestMatch = Math.max(bestMatch, (views[i] as BackendView).match);
  const under = eligible.filter(
    (i) => (views[i] as BackendView).inflight + 1 <= loadBound(views, eligible, i, epsilon),
  );
  const pool = under.length > 0 ? under : eligible;
  const cost = (i: number): number => {
    const v = views[i] as BackendView;
    return v.waitMs === undefined || v.prefillMs === undefined ? -v.match : v.waitMs + v.prefillMs;
  };
  let pick = pool[0] as number;
  for (const i of pool) {
    const a = views[i] as BackendView;
    const b = views[pick] as BackendView;
    const d = cost(i) - cost(pick);
    if (d < -1e-9 || (Math.abs(d) <= 1e-9 && (a.match > b.match || (a.match === b.match && better(i, pick)))))
      pick = i;
  }
  let topUnder = 0;
  for (const i of under) topUnder = Math.max(topUnder, (views[i] as BackendView).match);
  const match = (views[pick] as BackendView).match;
  const reason: RouteReason = unhealthy
    ? "unhealthy"
    : under.length === 0 || topUnder < bestMatch
      ? "spill"
      : bestMatch === 0
        ? "least-loaded"
        : match === bestMatch
          ? "prefix"
          : "queue";
  return { backend: pick, reason, match, bestMatch };
}

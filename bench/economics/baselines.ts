import type { WriteTtl } from "../../src/economics/breakEven.ts";
import type { ModelInfo } from "../../src/economics/models.ts";
import type { ReplayPolicy, WriteChoice } from "./engine.ts";
import type { Trace, TraceRequest } from "./trace.ts";

/** The simple policies the reference table lists, as replay policies. */

const writeRest = (req: TraceRequest, cached: number, ttl: WriteTtl): WriteChoice => ({
  blocks: req.ids.length - cached,
  ttl,
});

export function noCaching(): ReplayPolicy {
  return { name: "no caching", disablesCache: true, admit: () => null, ping: () => 0 };
}

/** Every uncached block is written; pings up to `maxPings` per lapse chain (0: none). */
export function writeAll(ttl: WriteTtl, maxPings = 0, name?: string): ReplayPolicy {
  return {
    name: name ?? `write every prefix, ${ttl}${maxPings ? `, up to ${maxPings} pings` : ""}`,
    admit: (req, cached) => writeRest(req, cached, ttl),
    ping: (g) => (g.pingsSoFar < maxPings ? g.blocks.length : 0),
  };
}

/**
 * Anthropic's top-level automatic mode (`cache_control` on the request): one 5m breakpoint on the last block
 * of every request, so the whole uncached rest of the prompt is written each time, and a read finds the
 * longest cached prefix only when it ends within `lookback` blocks (512 tokens each) before that breakpoint.
 */
export function anthropicAutomatic(lookback = 20): ReplayPolicy {
  return {
    name: `automatic mode: breakpoint on the last block, 5m, ${lookback}-block lookback`,
    lookbackBlocks: lookback,
    admit: (req, cached) => writeRest(req, cached, "5m"),
    ping: () => 0,
  };
}

/** Pings per idle period whose cost reaches one rewrite: floor(5m write / read), 12 at Anthropic prices. */
export function breakEvenPings(model: ModelInfo): number {
  return Math.floor(model.cacheWrite5m / model.cacheRead + 1e-9);
}

/** Writes a block only once an earlier request has held it (seen-before blocks form a leading run). */
export function secondSight(): ReplayPolicy {
  const seen = new Set<number>();
  return {
    name: "admit on second sight, 5m",
    admit: (req, cached) => {
      let k = 0;
      while (k < req.ids.length && seen.has(req.ids[k] as number)) k++;
      return k > cached ? { blocks: k - cached, ttl: "5m" } : null;
    },
    ping: () => 0,
    observe: (req) => {
      for (const id of req.ids) seen.add(id);
    },
  };
}

/**
 * A client that marks only its stable head (tools + system) with a 5m breakpoint. A request that knows its
 * head (`headBlocks`, from a body log) writes the blocks wholly inside it. The Mooncake trace has no message
 * boundaries, so there the head is approximated as the leading blocks that each appear in at least `share`
 * of all requests (a developer knows their system prompt; on this trace that is block 0 only).
 */
export function naiveClient(trace: Trace, share = 0.01): ReplayPolicy {
  const count = new Map<number, number>();
  for (const r of trace.requests) for (const id of r.ids) count.set(id, (count.get(id) ?? 0) + 1);
  const floor = share * trace.requests.length;
  const headLength = (req: TraceRequest): number => {
    if (req.headBlocks !== undefined) return Math.min(req.headBlocks, req.ids.length);
    let k = 0;
    while (k < req.ids.length && (count.get(req.ids[k] as number) ?? 0) >= floor) k++;
    return k;
  };
  return {
    name: "naive client: head only, 5m",
    admit: (req, cached) => {
      const k = headLength(req);
      return k > cached ? { blocks: k - cached, ttl: "5m" } : null;
    },
    ping: () => 0,
  };
}

/** Leading blocks the naive client treats as its head, for the report. */
export function naiveHeadBlocks(trace: Trace, share = 0.01): number {
  const count = new Map<number, number>();
  for (const r of trace.requests) for (const id of r.ids) count.set(id, (count.get(id) ?? 0) + 1);
  const ids = new Set<number>();
  for (const [id, c] of count) if (c >= share * trace.requests.length) ids.add(id);
  return ids.size;
}

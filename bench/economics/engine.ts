import { TTL_MS, type WriteTtl } from "../../src/economics/breakEven.ts";
import type { ModelInfo } from "../../src/economics/models.ts";
import { MinHeap } from "./heap.ts";
import { type Trace, type TraceRequest, tokensThrough } from "./trace.ts";

/**
 * The replay: block-level prefix caching in simulated time, as bench/data and the traces README describe it.
 * - A block is cached while now <= expiry; a request reads its longest leading run of cached blocks
 *   (refreshing each one's TTL, 5m or 1h as it was written) and the policy decides how many of the
 *   remaining blocks to write, and at which TTL; the rest is sent uncached.
 * - Prices are multiples of the base input price: read, 5m write, 1h write, uncached 1.
 * - A ping is a decision taken when a group of blocks (those a request last touched, per TTL) is about to
 *   lapse: it costs a read of each of those blocks and restarts their TTL. Pings are charged for every lapse
 *   they cover, also after a block's last use until the end of the trace (lapses at or after the last
 *   timestamp are not). This per-block charge is the reference's rule; a real ping reads the whole prefix
 *   up to its breakpoint, including blocks still fresh, which `prefixPingCost` reports.
 * - OpenAI-style automatic caching: every uncached block is written (at the write price) and the policy only
 *   decides pings. Minimum cacheable lengths are not modelled (the reference does not either).
 */

export interface WriteChoice {
  /** How many blocks after the cached run to write. */
  blocks: number;
  ttl: WriteTtl;
}

/** Blocks that one request last touched, with one TTL, that are about to lapse. */
export interface LapseGroup {
  request: TraceRequest;
  ttl: WriteTtl;
  lastUseMs: number;
  pingsSoFar: number;
  /** The group's blocks still held, in prompt order. */
  blocks: readonly number[];
}

export interface ReplayPolicy {
  readonly name: string;
  /** Nothing is cached at all, not even automatically (the price reference). */
  readonly disablesCache?: boolean;
  /**
   * Anthropic's top-level automatic mode: the only breakpoint is on the prompt's last block, and a read finds
   * a cached prefix only if it ends at that block or at most this many blocks before it (the lookback,
   * counted in 512-token blocks); otherwise nothing is read and the whole prompt is written again.
   */
  readonly lookbackBlocks?: number;
  /** How much of a request's uncached tail to write (not called under automatic caching). */
  admit(req: TraceRequest, cachedBlocks: number, cachedTtl: WriteTtl | null): WriteChoice | null;
  /** How many of a lapsing group's leading blocks to ping now (0: let the group lapse). */
  ping(group: LapseGroup, nowMs: number): number;
  /** Time moves to `nowMs` (before any decision at that time): for policies that learn on a clock. */
  advance?(nowMs: number): void;
  /** A request arrives (before its reads and writes). */
  arrive?(req: TraceRequest): void;
  /** A request was served (after its reads and writes). */
  observe?(req: TraceRequest, cachedBlocks: number, written: WriteChoice | null): void;
}

export interface ReplayOptions {
  model: ModelInfo;
  /** Pings are sent this long before the lapse (the refresh then lasts from the ping). */
  pingLeadMs?: number;
  /** When given, each block's cost (in base-price tokens) is added here: for diagnostics. */
  costByBlock?: Float64Array;
}

export interface ReplayResult {
  policy: string;
  /** Input cost as a fraction of sending every token uncached. */
  cost: number;
  readTokens: number;
  write5mTokens: number;
  write1hTokens: number;
  /** Ping requests (one per lapsing group). */
  pings: number;
  /** Ping cost as charged by the reference rule (per lapsing block), fraction of no caching. */
  pingCost: number;
  /** Ping cost if each ping is billed as a read of its whole prefix, fraction of no caching. */
  prefixPingCost: number;
  totalInputTokens: number;
  /** Tokens read from cache by each request, in trace (time) order: for the modelled TTFT. */
  requestReads?: Float64Array;
  /** Cumulative cost (pings included, as a fraction of no caching) after each request, in trace order. */
  timeline?: Float64Array;
}

interface Group {
  request: TraceRequest;
  kind: 0 | 1;
  blocks: Int32Array;
  lastUseMs: number;
  pings: number;
  expiresAt: number;
}

const KINDS: readonly WriteTtl[] = ["5m", "1h"];

/** Replays a trace under one policy and one price model. */
export function replay(trace: Trace, policy: ReplayPolicy, opts: ReplayOptions): ReplayResult {
  const m = opts.model;
  const lead = opts.pingLeadMs ?? 0;
  const automatic = m.cacheStyle === "openai-implicit" && !policy.disablesCache;
  const writePrice = [m.cacheWrite5m, m.cacheWrite1h];
  const ttlOf = [TTL_MS["5m"], TTL_MS["1h"]];
  const tok = trace.blockTokens;
  const expires = new Float64Array(trace.blockCount).fill(Number.NEGATIVE_INFINITY);
  const kind = new Uint8Array(trace.blockCount);
  const owner = new Int32Array(trace.blockCount).fill(-1);
  const heap = new MinHeap<Group>();
  const byBlock = opts.costByBlock;
  const charge = (id: number, units: number): number => {
    if (byBlock) byBlock[id] = (byBlock[id] ?? 0) + units;
    return units;
  };
  let cost = 0;
  let readTokens = 0;
  const writeTokens = [0, 0];
  let pings = 0;
  let pingCost = 0;
  let prefixPingCost = 0;
  const requestReads = new Float64Array(trace.requests.length);
  const timeline = new Float64Array(trace.requests.length);
  const total = trace.totalInputTokens;

  const lapse = (g: Group, at: number): void => {
    const live: number[] = [];
    for (const id of g.blocks) {
      if (owner[id] === g.request.index && kind[id] === g.kind && expires[id] === g.expiresAt) live.push(id);
    }
    if (live.length === 0) return;
    const view: LapseGroup = {
      request: g.request,
      ttl: KINDS[g.kind] as WriteTtl,
      lastUseMs: g.lastUseMs,
      pingsSoFar: g.pings,
      blocks: live,
    };
    const k = Math.min(policy.ping(view, at), live.length);
    if (k <= 0) return;
    const until = at + (ttlOf[g.kind] as number);
    for (let i = 0; i < k; i++) {
      const id = live[i] as number;
      pingCost += charge(id, m.cacheRead * (tok[id] ?? 0));
      expires[id] = until;
    }
    pings++;
    prefixPingCost += m.cacheRead * tokensThrough(trace, live[k - 1] as number);
    g.blocks = Int32Array.from(live.slice(0, k));
    g.pings++;
    g.expiresAt = until;
    heap.push(until - lead, g);
  };

  const runUntil = (t: number): void => {
    for (let top = heap.peek(); top && top.at < t; top = heap.peek()) {
      heap.pop();
      policy.advance?.(top.at);
      lapse(top.value, top.at);
    }
    policy.advance?.(t);
  };

  for (const [j, req] of trace.requests.entries()) {
    const t = req.atMs;
    runUntil(t);
    policy.arrive?.(req);
    const ids = req.ids;
    const n = ids.length;
    let c = 0;
    while (c < n && !policy.disablesCache && (expires[ids[c] as number] as number) >= t) c++;
    if (policy.lookbackBlocks !== undefined && c < n - policy.lookbackBlocks) c = 0;
    const cachedTtl = c > 0 ? (KINDS[kind[ids[c - 1] as number] as number] as WriteTtl) : null;
    const choice: WriteChoice | null = automatic
      ? { blocks: n - c, ttl: "5m" }
      : clampChoice(policy.admit(req, c, cachedTtl), n - c);
    const w = choice?.blocks ?? 0;
    const wk = choice?.ttl === "1h" ? 1 : 0;
    const touched: number[][] = [[], []];
    for (let i = 0; i < n; i++) {
      const id = ids[i] as number;
      const tokens = tok[id] as number;
      if (i < c) {
        cost += charge(id, m.cacheRead * tokens);
        readTokens += tokens;
        requestReads[j] = (requestReads[j] as number) + tokens;
        const k = kind[id] as 0 | 1;
        expires[id] = t + (ttlOf[k] as number);
        owner[id] = req.index;
        touched[k]?.push(id);
      } else if (i < c + w) {
        cost += charge(id, (writePrice[wk] as number) * tokens);
        writeTokens[wk] = (writeTokens[wk] as number) + tokens;
        kind[id] = wk;
        expires[id] = t + (ttlOf[wk] as number);
        owner[id] = req.index;
        touched[wk]?.push(id);
      } else {
        cost += charge(id, tokens);
      }
    }
    for (const k of [0, 1] as const) {
      const blocks = touched[k] as number[];
      if (blocks.length === 0) continue;
      const expiresAt = t + (ttlOf[k] as number);
      heap.push(expiresAt - lead, {
        request: req,
        kind: k,
        blocks: Int32Array.from(blocks),
        lastUseMs: t,
        pings: 0,
        expiresAt,
      });
    }
    policy.observe?.(req, c, choice);
    timeline[j] = (cost + pingCost) / total;
  }
  runUntil(trace.endMs);
  return {
    policy: policy.name,
    cost: (cost + pingCost) / total,
    readTokens,
    write5mTokens: writeTokens[0] as number,
    write1hTokens: writeTokens[1] as number,
    pings,
    pingCost: pingCost / total,
    prefixPingCost: prefixPingCost / total,
    totalInputTokens: total,
    requestReads,
    timeline,
  };
}

function clampChoice(choice: WriteChoice | null, max: number): WriteChoice | null {
  if (!choice || choice.blocks <= 0) return null;
  return { blocks: Math.min(choice.blocks, max), ttl: choice.ttl };
}

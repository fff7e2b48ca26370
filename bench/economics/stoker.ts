import type { WriteTtl } from "../../src/economics/breakEven.ts";
import type { ModelInfo } from "../../src/economics/models.ts";
import {
  catchUp,
  emptyFamily,
  type FamilyGaps,
  type GapHistory,
  noteIdle,
  noteOwnGap,
  noteReturn,
  noteUse,
  WINDOW_MS,
  WINDOWS,
} from "../../src/keepalive/gaps.ts";
import {
  type AdmissionInput,
  choosePingDepth,
  chooseWrite,
  type PingCandidate,
} from "../../src/keepalive/policy.ts";
import { DEFAULT_KEEPALIVE, type KeepaliveSettings } from "../../src/keepalive/settings.ts";
import type { ReplayPolicy, WriteChoice } from "./engine.ts";
import { BLOCK_TOKENS, type Trace, type TraceRequest, tokensThrough } from "./trace.ts";

/**
 * Stoker's policy (src/keepalive/policy.ts) driven by a model of what the tracker would know, learned online
 * from the requests seen so far and nothing else.
 * - A prefix is a block (its chain position): its `uses` are the requests that held it, its own histogram
 *   the gaps between them. The family is the whole trace (every request shares block 0, the system prompt).
 * - Survival counts are eager by default: an idle prefix's at-risk count goes up as it enters each window,
 *   as a sweep would do it; `lazyCounts` counts only when the prefix is used again or checked for a ping, as a
 *   tracker without a sweep would.
 * - Only full 512-token blocks are candidates (a partial last block is the one part of a prompt that the
 *   next turn never repeats in this block model; vLLM caches only full blocks too), and only they are learned
 *   from.
 * - Admission writes the leading run of the uncached tail that maximizes the summed expected value (deeper
 *   blocks are used at most as often as their parents, so value falls along the chain); a ping covers the
 *   leading run of a lapsing group's blocks whose own decision is to ping.
 */
export interface StokerOptions {
  model: ModelInfo;
  keepalive?: KeepaliveSettings;
  allow1h?: boolean;
  lazyCounts?: boolean;
  /** Admission only, no pings (to separate the two levers). */
  noPings?: boolean;
  /** Start from this family table instead of an empty one (e.g. one learned on an earlier run). */
  family?: FamilyGaps;
  /** Leave the conversation's turns out of the class (uses only). */
  ignoreTurns?: boolean;
  /**
   * Position of the first block that belongs to the conversation alone (its turns are that block's uses):
   * 1 on the Mooncake trace, whose shared head is block 0; the synthetic workloads' heads are longer. A
   * request's own `rootBlock` (body logs, where the head is known per request) takes precedence.
   */
  rootPosition?: number;
  name?: string;
}

export type StokerReplayPolicy = ReplayPolicy & { family: FamilyGaps };

export function stokerPolicy(trace: Trace, opts: StokerOptions): StokerReplayPolicy {
  const model = opts.model;
  const base = opts.keepalive ?? DEFAULT_KEEPALIVE;
  const keepalive = opts.noPings ? { ...base, enabled: false } : base;
  const allow1h = opts.allow1h ?? true;
  const family = opts.family
    ? { atRisk: [...opts.family.atRisk], returns: [...opts.family.returns] }
    : emptyFamily();
  const n = trace.blockCount;
  const uses = new Int32Array(n);
  const lastSeen = new Float64Array(n);
  const counted = new Uint8Array(n);
  // The conversation's turns when the block was last used (its class while idle).
  const turnsAt = new Int32Array(n);
  const own = new Uint8Array(n * (WINDOWS + 1));
  // Idle prefixes waiting to enter window j (queue j), oldest first: each queue stays sorted by time.
  const queues: { id: number; since: number }[][] = Array.from({ length: WINDOWS }, () => []);
  const heads = new Array<number>(WINDOWS).fill(0);

  const full = (id: number): boolean => (trace.blockTokens[id] ?? 0) === BLOCK_TOKENS;
  const ownOf = (id: number): Uint8Array => own.subarray(id * (WINDOWS + 1), (id + 1) * (WINDOWS + 1));
  const rootAt = opts.rootPosition ?? 1;
  const rootOf = (req: TraceRequest): number =>
    req.ids[Math.min(req.rootBlock ?? rootAt, req.ids.length - 1)] as number;
  const standing = (id: number) => ({
    uses: uses[id] ?? 0,
    turns: opts.ignoreTurns ? 1 : (turnsAt[id] ?? 0),
  });
  const history = (id: number): GapHistory => ({ ...standing(id), own: ownOf(id), family });

  const advance = (nowMs: number): void => {
    for (let j = 1; j < WINDOWS; j++) {
      const q = queues[j] as { id: number; since: number }[];
      let h = heads[j] as number;
      for (let item = q[h]; item && item.since + j * WINDOW_MS < nowMs; item = q[h]) {
        h++;
        if (lastSeen[item.id] !== item.since) continue; // used again since: it left the idle population
        noteIdle(family, standing(item.id), j);
        if (j + 1 < WINDOWS) queues[j + 1]?.push(item);
      }
      if (h > 4096 && h * 2 > q.length) {
        q.splice(0, h);
        h = 0;
      }
      heads[j] = h;
    }
  };

  const arrive = (req: TraceRequest): void => {
    const t = req.atMs;
    const root = rootOf(req);
    const turns = (full(root) ? (uses[root] ?? 0) : 0) + 1;
    for (const id of req.ids) {
      if (!full(id)) continue;
      const u = uses[id] ?? 0;
      if (u > 0) {
        const gap = t - (lastSeen[id] ?? 0);
        if (opts.lazyCounts) catchUp(family, standing(id), gap, counted[id] ?? 0);
        noteReturn(family, standing(id), gap);
        ownOf(id).set(noteOwnGap(ownOf(id), gap));
      }
      uses[id] = u + 1;
      turnsAt[id] = turns;
      lastSeen[id] = t;
      noteUse(family, standing(id));
      counted[id] = 1;
      if (!opts.lazyCounts) queues[1]?.push({ id, since: t });
    }
  };

  const admit = (req: TraceRequest, cached: number, cachedTtl: WriteTtl | null): WriteChoice | null => {
    const positions: AdmissionInput[] = [];
    for (let i = cached; i < req.ids.length; i++) {
      const id = req.ids[i] as number;
      if (!full(id)) break;
      positions.push({
        writeTokens: BLOCK_TOKENS,
        prefixTokens: tokensThrough(trace, id),
        cachedTtl,
        gaps: history(id),
      });
    }
    const w = chooseWrite(positions, model, { keepalive, allow1h });
    return w.count > 0 ? { blocks: w.count, ttl: w.ttl } : null;
  };

  return {
    name: opts.name ?? "Stoker (admission + keepalive, learned online)",
    family,
    advance: opts.lazyCounts ? undefined : advance,
    arrive,
    admit,
    ping(group, nowMs) {
      const positions: PingCandidate[] = group.blocks.map((id) => {
        if (opts.lazyCounts && lastSeen[id] === group.lastUseMs) {
          counted[id] = catchUp(family, standing(id), nowMs - group.lastUseMs, counted[id] ?? 0);
        }
        return {
          tokens: tokensThrough(trace, id),
          ttl: group.ttl,
          lastUseMs: group.lastUseMs,
          pingsSoFar: group.pingsSoFar,
          gaps: history(id),
        };
      });
      return choosePingDepth(positions, nowMs, model, keepalive).count;
    },
  };
}

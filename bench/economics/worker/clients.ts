import { pingLeadMs } from "../../../src/decide/keepalive-settings.ts";
import type { ModelInfo } from "../../../src/economics/models.ts";
import { anthropicPingBody, openAIChatPingBody } from "../../../src/keepalive/ping-body.ts";
import type { ReplayResult } from "../engine.ts";
import { MinHeap } from "../heap.ts";
import { countAtMost } from "../timeline.ts";
import type { Trace, TraceRequest } from "../trace.ts";
import { anthropicBody, headBlocks, type Mapping, openAIChatBody } from "./bodies.ts";
import { ReplayProvider } from "./provider.ts";
import type { ReplayApi } from "./stoker.ts";

/**
 * The simple policies a client can run without Stoker, as real request bodies through the same simulator as
 * Stoker's row, so the 4-breakpoint cap, the 20-block lookback, minimum lengths and TTL refresh on read bind
 * them exactly as they bind Stoker. Each marks its own body; pings (where the policy has them) are the
 * client re-sending its last request of a conversation with the same pre-warm body Stoker would build,
 * 20 s before the entry lapses, up to `maxPings` per idle period.
 */
export interface ClientPolicy {
  key: string;
  name: string;
  /** Sets the cache markers of a body (Anthropic) or its key (OpenAI); `seen`: blocks sent before. */
  mark(body: Record<string, unknown>, req: TraceRequest, seen: ReadonlySet<number>, head: number): void;
  maxPings?: number;
}

type Block = { type: string; text: string; cache_control?: { type: "ephemeral"; ttl?: "1h" } };
type Message = { role: string; content: Block[] };

/** The body's content blocks in prompt order (system, then messages), for placing markers. */
function blocksOf(body: Record<string, unknown>): Block[] {
  const system = (body.system as Block[] | undefined) ?? [];
  const messages = (body.messages as Message[] | undefined) ?? [];
  return [...system, ...messages.flatMap((m) => m.content)];
}

const LOOKBACK = 20;

function mark(b: Block | undefined, ttl: "5m" | "1h"): void {
  if (b) b.cache_control = ttl === "1h" ? { type: "ephemeral", ttl: "1h" } : { type: "ephemeral" };
}

/**
 * Write every prefix as far as 4 breakpoints can: the end of the system prompt (shared by every
 * conversation), the last block, the one before it (the next turn replaces a partial last block, so the
 * previous turn's end is what it can read), and 20 blocks before that, so an earlier write is in reach.
 */
function spaced(ttl: "5m" | "1h"): ClientPolicy["mark"] {
  return (body) => {
    const system = ((body.system as Block[] | undefined) ?? []).length;
    const blocks = blocksOf(body).filter((b) => b.text !== "Continue.");
    const last = blocks.length - 1;
    for (const at of [system - 1, last, last - 1, last - 1 - LOOKBACK])
      if (at >= system - 1) mark(blocks[at], ttl);
  };
}

/** The Anthropic baselines. */
export function anthropicClients(model: ModelInfo): ClientPolicy[] {
  const breakEven = Math.floor(model.cacheWrite5m / model.cacheRead + 1e-9);
  const systemBlocks = (body: Record<string, unknown>) => ((body.system as Block[] | undefined) ?? []).length;
  return [
    { key: "no_caching", name: "no caching", mark: () => {} },
    {
      key: "naive",
      name: "naive client: system prompt only, 5m",
      mark: (body) => mark(blocksOf(body)[systemBlocks(body) - 1], "5m"),
    },
    {
      key: "automatic",
      name: "automatic mode (top-level cache_control), 5m",
      mark: (body) => {
        body.cache_control = { type: "ephemeral" };
      },
    },
    {
      key: "write_all_5m",
      name: "write every prefix (breakpoints: system end, last two blocks, 20 before), 5m",
      mark: spaced("5m"),
    },
    {
      key: "write_all_1h",
      name: "write every prefix (breakpoints: system end, last two blocks, 20 before), 1h",
      mark: spaced("1h"),
    },
    {
      key: "fixed_pings",
      name: "5m + fixed pings (up to 3 per idle period)",
      mark: spaced("5m"),
      maxPings: 3,
    },
    {
      key: "break_even_pings",
      name: `5m + pings up to break-even (${breakEven})`,
      mark: spaced("5m"),
      maxPings: breakEven,
    },
    {
      key: "second_sight",
      name: "admit on second sight: a breakpoint at the deepest block sent before, 5m",
      mark: (body, req, seen, head) => {
        let k = 0;
        while (k < req.ids.length && seen.has(req.ids[k] as number)) k++;
        if (k === 0) return;
        // Content blocks through trace block k-1: the system's, then one message per block.
        const blocks = blocksOf(body);
        const perBlock = systemBlocks(body) / head;
        mark(blocks[Math.round(perBlock * k) - 1], "5m");
      },
    },
  ];
}

/** The OpenAI baselines: automatic caching with no key, with and without the client's own pings. */
export function openAIClients(model: ModelInfo): ClientPolicy[] {
  const breakEven = Math.floor(model.cacheWrite5m / model.cacheRead + 1e-9);
  return [
    { key: "automatic", name: "automatic caching, no key, no pings", mark: () => {} },
    {
      key: "fixed_pings",
      name: "automatic + fixed pings (up to 3 per idle period)",
      mark: () => {},
      maxPings: 3,
    },
    {
      key: "break_even_pings",
      name: `automatic + pings up to break-even (${breakEven})`,
      mark: () => {},
      maxPings: breakEven,
    },
  ];
}

interface PendingPing {
  conversation: number;
  turn: number;
  body: string;
  pings: number;
}

/** Replays a trace with one client policy, through the simulator in process. */
export async function replayClient(
  trace: Trace,
  policy: ClientPolicy,
  opts: { api: ReplayApi; mapping: Mapping; model: string; modelInfo: ModelInfo; headFallback?: number },
): Promise<ReplayResult> {
  const provider = new ReplayProvider(opts.modelInfo, trace.requests.length);
  const path = opts.api === "anthropic" ? "/anthropic/v1/messages" : "/openai/v1/chat/completions";
  const headers: Record<string, string> =
    opts.api === "anthropic" ? { "anthropic-version": "2023-06-01" } : {};
  const ttlMs =
    opts.api === "anthropic" ? provider.sim.options.ttl5mMs : provider.sim.options.openaiInMemoryTtlMs;
  const seen = new Set<number>();
  const heap = new MinHeap<PendingPing>();
  const turnOf = new Map<number, number>();

  const pingUntil = async (t: number): Promise<void> => {
    for (let top = heap.peek(); top && top.at < t; top = heap.peek()) {
      heap.pop();
      const p = top.value;
      if (turnOf.get(p.conversation) !== p.turn) continue; // a real request came since
      provider.now = top.at;
      const { usage } = await provider.send(path, p.body, headers);
      provider.chargePing(usage);
      if (usage && usage.cacheReadTokens > 0 && p.pings + 1 < (policy.maxPings ?? 0))
        heap.push(top.at + ttlMs - pingLeadMs(ttlMs), { ...p, pings: p.pings + 1 });
    }
  };

  for (const [j, req] of trace.requests.entries()) {
    const t = req.atMs;
    await pingUntil(t);
    provider.now = t;
    const head = Math.max(1, Math.min(req.headBlocks ?? opts.headFallback ?? 1, req.ids.length - 1));
    const body =
      opts.api === "anthropic"
        ? anthropicBody(trace, req, opts.mapping, opts.model, opts.headFallback)
        : openAIChatBody(trace, req, opts.mapping, opts.model, opts.headFallback);
    if (opts.api === "anthropic") policy.mark(body, req, seen, headBlocks(req, opts.headFallback));
    const { usage } = await provider.send(path, JSON.stringify(body), headers);
    provider.chargeRequest(j, usage);
    for (const id of req.ids) seen.add(id);
    if (policy.maxPings) {
      const conversation = req.ids[Math.min(head, req.ids.length - 1)] as number;
      const turn = (turnOf.get(conversation) ?? 0) + 1;
      turnOf.set(conversation, turn);
      const messages = (body.messages as Message[] | { content: unknown }[]) ?? [];
      const last = messages.length - 1;
      const ping =
        opts.api === "anthropic"
          ? anthropicPingBody(body, {
              area: "messages",
              index: last,
              block: Math.max(0, ((messages[last] as Message | undefined)?.content.length ?? 1) - 1),
            }).body
          : openAIChatPingBody(body).body;
      heap.push(t + ttlMs - pingLeadMs(ttlMs), { conversation, turn, body: JSON.stringify(ping), pings: 0 });
    }
  }
  await pingUntil(trace.endMs);
  return provider.result(policy.name);
}

/**
 * A yardstick, not a policy a client could run: a client that knows when every block will be sent again but
 * never writes a block at its first use (as the optimum blind at first sight), under the simulator's rules
 * (4 breakpoints, the 20-block lookback, minimum lengths), which that optimum ignores. At each request it
 * marks the deepest prefix it has cached (a read), the deepest prefix of blocks sent before whose next use
 * comes within 5 minutes (a 5m write; else the deepest whose next two uses come within the hour, written for
 * the hour), and the head while it comes back within 5 minutes. No pings. `block` mapping only (one content
 * block a trace block). What it costs says how much of the gap to that optimum is knowing the future after a
 * first sight, and how much is the breakpoints' rules.
 */
export function foresightClient(trace: Trace, ttl5mMs: number, ttl1hMs: number): ClientPolicy {
  const uses = new Map<number, number[]>();
  for (const [j, r] of trace.requests.entries())
    for (const id of r.ids) {
      const list = uses.get(id);
      if (list) list.push(j);
      else uses.set(id, [j]);
    }
  const atOf = (j: number): number => (trace.requests[j] as TraceRequest).atMs;
  const position = new Map(trace.requests.map((r, j) => [r, j]));
  /** Times of the next `n` uses of `id` after request `j` (fewer when it has fewer). */
  const nextUses = (id: number, j: number, n: number): number[] => {
    const list = uses.get(id) ?? [];
    const from = countAtMost(list, j);
    return list.slice(from, from + n).map(atOf);
  };
  // What this client believes is cached: the block a prefix ends at, until when, and for how long a read keeps it.
  const cached = new Map<number, { until: number; ttlMs: number }>();
  return {
    key: "foresight",
    name: "knows the future after a block's first use, under the breakpoints' rules (no pings)",
    mark: (body, req, seen, head) => {
      const t = req.atMs;
      const j = position.get(req) ?? -1;
      const blocks = blocksOf(body);
      const ids = req.ids;
      let k = 0;
      while (k < ids.length && seen.has(ids[k] as number)) k++;
      let read = -1;
      for (let p = k; p >= 1; p--) {
        const c = cached.get(ids[p - 1] as number);
        if (c && c.until > t) {
          read = p;
          break;
        }
      }
      let write = -1;
      let ttl: "5m" | "1h" = "5m";
      for (let p = k; p > Math.max(read, 0); p--) {
        const next = nextUses(ids[p - 1] as number, j, 2);
        if (next[0] !== undefined && next[0] - t <= ttl5mMs) {
          write = p;
          break;
        }
      }
      if (write < 0)
        for (let p = k; p > Math.max(read, 0); p--) {
          const next = nextUses(ids[p - 1] as number, j, 2);
          if (next.length === 2 && (next[1] as number) - t <= ttl1hMs) {
            write = p;
            ttl = "1h";
            break;
          }
        }
      const headNext = nextUses(ids[head - 1] as number, j, 1)[0];
      const marks = new Set<number>();
      if (write > 0) marks.add(write);
      if (read > 0 && !(write > 0 && write - read <= LOOKBACK)) marks.add(read);
      if (headNext !== undefined && headNext - t <= ttl5mMs && read < head && write !== head) marks.add(head);
      // TTLs must not grow along the prompt: everything up to a 1h write is marked 1h (a read writes nothing).
      for (const p of [...marks].sort((a, b) => a - b).slice(-4)) mark(blocks[p - 1], ttl);
      // The simulator restarts the entry it reads, marked or found by the lookback.
      for (const p of read > 0 ? [...marks, read] : marks) {
        const c = cached.get(ids[p - 1] as number);
        const ms = p === write ? (ttl === "1h" ? ttl1hMs : ttl5mMs) : (c?.ttlMs ?? ttl5mMs);
        cached.set(ids[p - 1] as number, { until: t + ms, ttlMs: ms });
      }
    },
  };
}

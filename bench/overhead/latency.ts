// Phase 1: the same requests straight to the simulator, through the null-proxy worker, the reading proxy
// and through Stoker, interleaved one by one (each request's order of the arms is a seeded shuffle, so no
// arm always follows another), at concurrency 1. CPU of each worker's process group (Miniflare or wrangler dev) is read
// around each group.
import { setTimeout as sleep } from "node:timers/promises";
import { SERVICE_HEADER } from "../../sim/provider-middleware.ts";
import { mulberry32 } from "../economics/synthetic.ts";
import { bodyFactory, openingFactory, type Upstream } from "./bodies.ts";
import { cpuDelta, type GroupCpu, groupCpu, machineBusyMs, selfCpuMs } from "./cpu.ts";
import { type GcStats, gcWatch } from "./gc.ts";
import { agent, requestHeaders, type Timing, timedPost } from "./http.ts";

/**
 * direct: straight to the simulator. worker, worker2: two copies of the null proxy (their difference is the
 * noise floor). reader: the reading proxy (worker.ts `readingProxy`, an instance of its own): the body and
 * the answer's usage read, nothing else. stoker: a later turn of a conversation (the isolate heard of it); stokerFirst: every request
 * the first of a new conversation of the family. slow, slowFirst: the same through a second Stoker whose
 * tracker answers 50-100 ms late (TRACKER_DELAY_MS).
 */
export const ARMS = [
  "direct",
  "worker",
  "worker2",
  "reader",
  "stoker",
  "stokerFirst",
  "slow",
  "slowFirst",
] as const;
export type Arm = (typeof ARMS)[number];
const STOKERS: readonly Arm[] = ["stoker", "stokerFirst", "slow", "slowFirst"];
/** Arms whose bodies start a new conversation each. */
const FIRST: readonly Arm[] = ["stokerFirst", "slowFirst"];

export interface Group {
  upstream: Upstream;
  tokens: number;
  stream: boolean;
  n: number;
  warmup: number;
  /**
   * What a first request is: the first request of a conversation carrying its earlier turns (default: they
   * went through another isolate), or a new conversation's opening (`opening`: the family's tools and system,
   * most of the prompt, and one message; bodies.ts `openingFactory`).
   */
  first?: "carried" | "opening";
}

export interface Targets {
  sim: string;
  worker: string;
  /** The reading proxy: the reference worker's bundle in an instance of its own. */
  reader: string;
  stoker: string;
  slow: string;
  stokerPgid: number;
  workerPgid: number;
  readerPgid: number;
  slowPgid: number;
  tenantKey: string;
  /** Process groups that serve the Stokers' bindings apart from them (`--apart`: their trackers), counted as the benchmark's own load. */
  helperPgids?: number[];
  /** Each worker's output so far (Miniflare: with workerd's `--trace-gc` lines, gc.ts); none under wrangler dev. */
  outputs?: Record<"stoker" | "worker" | "slow", () => string>;
  /** CPU ms per wall ms of each worker's process group while idle, per command, subtracted from the group deltas. */
  idle: Record<"stoker" | "worker" | "reader" | "slow", Record<string, number>>;
  /** Started after a group's warm-up; what it returns is awaited once its measured requests are done (native-profile.ts). */
  measuring?: (g: Group) => Promise<() => Promise<void>>;
}

export interface Samples {
  wall: number[];
  ttfb: number[];
  /** The simulator's own time on the request (its `x-sim-service-ms`: body read to response headers). */
  service: number[];
  /**
   * The arm of the request sent just before this one (null for the group's first): a Stoker request that
   * follows one of its own process's comes while that one's work after its response may still run.
   */
  after: (Arm | null)[];
}

export interface GroupResult {
  group: Group;
  samples: Record<Arm, Samples>;
  /**
   * CPU ms per request of each worker's process group (each serves two arms but the reading proxy's, which
   * serves one), idle subtracted, by command name.
   */
  cpu: { stoker: GroupCpu; worker: GroupCpu; reader: GroupCpu; slow: GroupCpu };
  bodyBytes: number;
  promptTokens: number;
  failures: string[];
  plan: string | null;
  /** Share of prompt tokens the simulator served from cache, per arm. */
  cacheRead: Record<Arm, number>;
  elapsedMs: number;
  /** CPU used meanwhile by processes this benchmark did not start, in cores (1 = one core fully busy). */
  otherLoad: number;
  /** CPU ms per Stoker request (both Stokers, all their arms) of the processes in `helperPgids`, idle included. */
  helperCpuMs: number;
  /** V8's collections in each worker's process over the measured requests (each served two arms); null without outputs. */
  gc: Record<"stoker" | "worker" | "slow", GcStats> | null;
}

/** The order of the arms for request `i`: a seeded shuffle, so no arm always follows another. */
function order(seed: number, i: number): Arm[] {
  const next = mulberry32(seed * 1009 + i);
  const arms = [...ARMS];
  for (let k = arms.length - 1; k > 0; k--) {
    const j = Math.floor(next() * (k + 1));
    [arms[k], arms[j]] = [arms[j] as Arm, arms[k] as Arm];
  }
  return arms;
}

const PATHS: Record<Upstream, string> = {
  anthropic: "/anthropic/v1/messages",
  openai: "/openai/v1/chat/completions",
};

function urlFor(t: Targets, arm: Arm, upstream: Upstream): string {
  if (arm === "direct") return `${t.sim}${PATHS[upstream]}`;
  if (arm === "worker") return `${t.worker}/proxy${PATHS[upstream]}`;
  if (arm === "worker2") return `${t.worker}/proxy2${PATHS[upstream]}`;
  if (arm === "reader") return `${t.reader}/read${PATHS[upstream]}`;
  if (arm === "slow" || arm === "slowFirst") return `${t.slow}${PATHS[upstream]}`;
  return `${t.stoker}${PATHS[upstream]}`;
}

function headersFor(t: Targets, arm: Arm, upstream: Upstream, ns: string): Record<string, string> {
  // Stoker's tenant key for Stoker (managed mode); any key for the simulator, which accepts all.
  return requestHeaders(upstream, STOKERS.includes(arm) ? t.tenantKey : "sk-bench-direct", ns);
}

function check(res: Timing, g: Group, arm: Arm): string | null {
  if (res.status !== 200) return `${arm}: HTTP ${res.status} ${res.body.slice(0, 200)}`;
  if (g.stream) {
    const end = g.upstream === "anthropic" ? "message_stop" : "[DONE]";
    if (!res.body.includes(end)) return `${arm}: stream without ${end}`;
  } else {
    try {
      JSON.parse(res.body);
    } catch {
      return `${arm}: body is not JSON`;
    }
  }
  if (STOKERS.includes(arm) && res.headers["x-stoker-plan"] === undefined) return `${arm}: no x-stoker-plan`;
  return null;
}

interface SimStats {
  anthropic: Record<string, number>;
  openai: Record<string, number>;
}

async function simStats(sim: string, ns: string): Promise<SimStats> {
  const res = await fetch(`${sim}/__sim/stats?ns=${encodeURIComponent(ns)}`);
  return (await res.json()) as SimStats;
}

function readShare(s: Record<string, number>): number {
  const read = s.cache_read_input_tokens ?? 0;
  const all =
    read +
    (s.uncached_input_tokens ?? 0) +
    (s.cache_write_5m_input_tokens ?? 0) +
    (s.cache_write_1h_input_tokens ?? 0);
  return all > 0 ? read / all : 0;
}

function perRequest(d: GroupCpu, idle: Record<string, number>, elapsedMs: number, n: number): GroupCpu {
  const byCommand: Record<string, number> = {};
  for (const [k, v] of Object.entries(d.byCommand))
    byCommand[k] = Math.max(0, v - (idle[k] ?? 0) * elapsedMs) / n;
  return {
    byCommand,
    totalMs: Object.values(byCommand).reduce((a, b) => a + b, 0),
    minorFaults: d.minorFaults / n,
  };
}

/** Sends group `g`'s requests to one arm, in namespace `ns`, over one keep-alive connection. */
export function sender(t: Targets, g: Group, arm: Arm, ns: string) {
  const via = agent();
  const url = urlFor(t, arm, g.upstream);
  const headers = headersFor(t, arm, g.upstream, ns);
  return {
    send: (body: Buffer) => timedPost(via, url, headers, body),
    check: (res: Timing) => check(res, g, arm),
    close: () => via.destroy(),
  };
}

export async function runGroup(t: Targets, g: Group, seed: number, runId: string): Promise<GroupResult> {
  const later = bodyFactory(g.upstream, g.tokens, g.stream, seed);
  const first =
    g.first === "opening"
      ? openingFactory(g.upstream, g.tokens, g.stream, seed)
      : bodyFactory(g.upstream, g.tokens, g.stream, seed, true);
  const make = later;
  const bodyFor = (arm: Arm, i: number) => (FIRST.includes(arm) ? first(i) : later(i));
  const label = `${g.upstream}-${g.tokens}-${g.stream ? "s" : "j"}`;
  const ns = Object.fromEntries(ARMS.map((a) => [a, `ovh-${runId}-${label}-${a}`])) as Record<Arm, string>;
  const senders = Object.fromEntries(ARMS.map((a) => [a, sender(t, g, a, ns[a])])) as Record<
    Arm,
    ReturnType<typeof sender>
  >;
  const samples = Object.fromEntries(
    ARMS.map((a): [Arm, Samples] => [a, { wall: [], ttfb: [], service: [], after: [] }]),
  ) as Record<Arm, Samples>;
  const failures: string[] = [];
  let plan: string | null = null;
  const send = (arm: Arm, body: Buffer) => senders[arm].send(body);

  // Warm-up: JIT, connections, the tracker's first rows and the simulator's first cache entries.
  for (let i = 0; i < g.warmup; i++) {
    for (const arm of ARMS) {
      const res = await send(arm, bodyFor(arm, 1_000_000 + i));
      const bad = check(res, g, arm);
      if (bad) throw new Error(`warm-up ${label}: ${bad}`);
    }
  }
  await sleep(100);
  const cpu0 = {
    stoker: groupCpu(t.stokerPgid),
    worker: groupCpu(t.workerPgid),
    reader: groupCpu(t.readerPgid),
    slow: groupCpu(t.slowPgid),
  };
  const helpersCpu = () => (t.helperPgids ?? []).reduce((sum, pgid) => sum + groupCpu(pgid).totalMs, 0);
  const helpers0 = helpersCpu();
  const outputs = t.outputs;
  const gc0 = outputs
    ? { stoker: gcWatch(outputs.stoker), worker: gcWatch(outputs.worker), slow: gcWatch(outputs.slow) }
    : null;
  const measured = await t.measuring?.(g);
  const machine0 = machineBusyMs();
  const self0 = selfCpuMs();
  const t0 = performance.now();
  let previous: Arm | null = null;
  for (let i = 0; i < g.n; i++) {
    for (const arm of order(seed, i)) {
      const res = await send(arm, bodyFor(arm, i));
      const bad = check(res, g, arm);
      if (bad) {
        failures.push(bad);
        if (failures.length > 5) throw new Error(`${label}: too many failures:\n${failures.join("\n")}`);
      }
      samples[arm].wall.push(res.wallMs);
      samples[arm].ttfb.push(res.ttfbMs);
      samples[arm].service.push(Number(res.headers[SERVICE_HEADER] ?? Number.NaN));
      samples[arm].after.push(previous);
      previous = arm;
      if (arm === "stoker" && plan === null) plan = String(res.headers["x-stoker-plan"] ?? "");
    }
  }
  // Records run after the response (waitUntil): let the last one land inside the measured window.
  await sleep(200);
  await measured?.();
  const elapsedMs = performance.now() - t0;
  const deltas = {
    stoker: cpuDelta(cpu0.stoker, groupCpu(t.stokerPgid)),
    worker: cpuDelta(cpu0.worker, groupCpu(t.workerPgid)),
    reader: cpuDelta(cpu0.reader, groupCpu(t.readerPgid)),
    slow: cpuDelta(cpu0.slow, groupCpu(t.slowPgid)),
  };
  const helperMs = helpersCpu() - helpers0;
  const gc = gc0 ? { stoker: gc0.stoker.since(), worker: gc0.worker.since(), slow: gc0.slow.since() } : null;
  const ours =
    deltas.stoker.totalMs +
    deltas.worker.totalMs +
    deltas.reader.totalMs +
    deltas.slow.totalMs +
    helperMs +
    (selfCpuMs() - self0);
  const otherLoad = Math.max(0, machineBusyMs() - machine0 - ours) / elapsedMs;
  // Each worker's process group served two arms' requests, the reading proxy's one.
  const cpu = {
    stoker: perRequest(deltas.stoker, t.idle.stoker, elapsedMs, 2 * g.n),
    worker: perRequest(deltas.worker, t.idle.worker, elapsedMs, 2 * g.n),
    reader: perRequest(deltas.reader, t.idle.reader, elapsedMs, g.n),
    slow: perRequest(deltas.slow, t.idle.slow, elapsedMs, 2 * g.n),
  };
  for (const a of ARMS) senders[a].close();

  const stats = await Promise.all(ARMS.map((a) => simStats(t.sim, ns[a])));
  const cacheRead = Object.fromEntries(
    ARMS.map((a, i) => [a, readShare((stats[i] as SimStats)[g.upstream])]),
  ) as Record<Arm, number>;
  const d = (stats[0] as SimStats)[g.upstream];
  const promptTokens =
    ((d.uncached_input_tokens ?? 0) +
      (d.cache_read_input_tokens ?? 0) +
      (d.cache_write_5m_input_tokens ?? 0) +
      (d.cache_write_1h_input_tokens ?? 0)) /
    Math.max(1, d.requests ?? 1);
  return {
    group: g,
    samples,
    cpu,
    bodyBytes: make(0).length,
    promptTokens: Math.round(promptTokens),
    failures,
    plan,
    cacheRead,
    elapsedMs,
    otherLoad,
    helperCpuMs: helperMs / (4 * g.n),
    gc,
  };
}

// The markdown report: what each figure measures is said next to it.

import { engineTotal, pathMean } from "../engine/tables.ts";
import type { GroupCpu } from "./cpu.ts";
import { CLOCK_TICK_MS } from "./cpu.ts";
import type { EngineRows } from "./engine.ts";
import type { GcStats } from "./gc.ts";
import type { Arm, Group, GroupResult } from "./latency.ts";
import { type Breakdown, CATEGORIES } from "./profile.ts";
import { mean, pairDiff, type Summary, summarize } from "./stats.ts";
import type { CellResult } from "./tracker-probe.ts";

export interface Facts {
  date: string;
  cpus: number;
  cpuModel: string;
  memGiB: number;
  kernel: string;
  node: string;
  /** How the workers ran: Miniflare's API (workerd alone) or wrangler dev. */
  runtime: "miniflare" | "wrangler";
  wrangler: string;
  miniflare: string;
  workerd: string;
  quick: boolean;
  idle: Record<"stoker" | "worker" | "reader" | "slow", Record<string, number>>;
  durations: { totalMs: number; latencyMs: number; profileMs: number; trackerMs: number; engineMs: number };
  profiled: number;
  faults: { trackerTimeouts: number; trackerOther: number; engine: number; slowTracker: number };
  /** VmRSS (MiB) of each wrangler dev group's workerd processes after the latency phase. */
  memory: { stoker: number[]; worker: number[]; reader: number[]; slow: number[]; requests: number };
  /** TRACKER_DELAY_MS of the slow-tracker Stoker. */
  slowTracker: string;
  /** `--apart`: both Stokers' trackers in a workerd process of their own, their Cache API a no-op. */
  apart: boolean;
  /** The machine's load averages (1, 5, 15 min) at the end of the run. */
  load: number[];
  /** The command line's flags. */
  args: string[];
}

export interface Profiled {
  group: Group;
  breakdown: Breakdown | null;
  error: string | null;
}

const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "–");
const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "–");
const pp = (s: Summary, fmt = f2) => `${fmt(s.p50)} / ${fmt(s.p99)}`;
const pct = (x: number) => `${Math.round(x * 100)} %`;
const sec = (ms: number) => `${(ms / 1000).toFixed(0)} s`;
/** Groups during which other processes used more than this many cores are marked: their tails are suspect. */
const BUSY = 0.2;
const label = (g: GroupResult) =>
  `${g.group.upstream === "anthropic" ? "Anthropic Messages" : "OpenAI Chat"}${g.otherLoad > BUSY ? " †" : ""} | ${g.group.stream ? "stream" : "JSON"} | ${(g.promptTokens / 1000).toFixed(1)}K | ${Math.round(g.bodyBytes / 1024)}`;

/**
 * Issue 19's targets on Stoker's own path: p50 within 1 ms; p99 within 3 ms, which this report has checked
 * since its first version, and within the noise floor's p99 (2nd null-proxy copy − null proxy) + 3 ms, the
 * issue's wording (the looser of the two wherever the floor's p99 is above 0).
 */
function targets(s: Summary, noise: Summary): { p50: boolean; p99: boolean; spread: boolean } {
  return { p50: s.p50 <= 1, p99: s.p99 <= 3, spread: s.p99 <= noise.p99 + 3 };
}

/** The noise floor of a group: 2nd null-proxy copy − null proxy, wall. */
const noiseOf = (g: GroupResult): Summary => addedOver(g, "worker2", "worker", "wall");

function meets(s: Summary, noise: Summary): string {
  const yes = (ok: boolean) => (ok ? "yes" : "**no**");
  const t = targets(s, noise);
  return `${yes(t.p50)} / ${yes(t.p99)} / ${yes(t.spread)} (${f2(noise.p99 + 3)})`;
}

/** How the report names the runtime the Workers ran in (`--runtime`), and what its processes are. */
function words(f: Facts) {
  if (f.runtime === "miniflare" && f.apart) {
    const single = miniflareWords(f);
    return {
      ...single,
      served: `${single.served}, **as a deploy runs it** (\`--apart\`, bench/overhead/miniflare.ts \`serveTrackerApart\`): each Stoker's tenants' trackers (Durable Objects) in a second workerd process of their own, reached through Miniflare's dev registry as \`wrangler dev\` reaches another running worker's Durable Object, and its Cache API a no-op (in a deploy the location's cache; by default a worker with its own SQLite store in Stoker's process). Stoker's process runs the request path, the record's RPC out and the cache write's hand-off; the trackers' work runs in their process, on the same cores, and is not counted in Stoker's CPU or memory below`,
      caveat:
        "**Caveat**: this is the closest this machine comes to a deploy: workerd without wrangler dev's proxy, the trackers and the cache out of Stoker's process. The trackers still share the two cores, and the client, the simulator and the Workers share the machine; the record's RPC crosses a local proxy (the dev registry's) instead of the network. The *runtime* columns below show what any Worker costs here; the target is checked against *Stoker's own path* (Stoker − null-proxy reference in the same runtime). Neither is production latency. Without `--apart` everything runs in Stoker's process (bench/report/overhead.md).",
    };
  }
  if (f.runtime === "miniflare") return miniflareWords(f);
  return wranglerWords();
}

function miniflareWords(f: Facts) {
  return {
    name: "Miniflare",
    instance: "Miniflare instance",
    group:
      "Miniflare process group — workerd (one process) and the Node process that runs Miniflare (idle: requests go to workerd's socket)",
    rss: "VmRSS of its workerd process, MiB",
    hops: "workerd's HTTP stack and one isolate, loopback; no proxy, no inspector",
    served: `in workerd through Miniflare's API (miniflare ${f.miniflare}; one instance per Worker, each in a child Node process of its own; requests go to a socket bound to the Worker, Miniflare's \`unsafeDirectSockets\`, not through Miniflare's entry worker; no inspector while latency is measured — the profile phase starts a Stoker of its own with one)`,
    persist: "a fresh persistence directory",
    caveat:
      "**Caveat**: Miniflare runs the production runtime (workerd) without wrangler dev's proxy worker, second workerd process and inspector, but locally: the Durable Objects share the process and the two cores with everything else, and the client, the simulator and both Workers share the machine. The *runtime* columns below show what any Worker costs here; the target is checked against *Stoker's own path* (Stoker − null-proxy reference in the same runtime), which is the closest local figure to the proxy path itself. Neither is production latency. `--runtime=wrangler` measures the same arms under `wrangler dev`; `--apart` serves Stoker's trackers and Cache API out of its process (bench/report/overhead-apart.md).",
  };
}

function wranglerWords() {
  return {
    name: "wrangler dev",
    instance: "wrangler dev instance",
    group:
      "wrangler dev process group — workerd (two processes: the dev proxy and the runtime), wrangler's Node process and esbuild",
    rss: "VmRSS of its workerd processes, MiB — the dev proxy's and the runtime's",
    hops: "two workerd hops, the dev proxy, loopback",
    served: "under `wrangler dev --no-bundle` (`--runtime=wrangler`)",
    persist: "a fresh `--persist-to` directory",
    caveat:
      "**Caveat**: wrangler dev's local runtime adds overhead production does not have: every request crosses the dev proxy worker and a second workerd process over loopback, workerd runs with the inspector on, and the Durable Object shares the process and the two cores with everything else. The *runtime* columns below show that share; the target is checked against *Stoker's own path* (Stoker − null-proxy reference in the same runtime), which is the closest local figure to the proxy path itself. Neither is production latency. The default runtime (`--runtime=miniflare`) has no dev proxy.",
  };
}

const ARM_NAMES: [Arm, string][] = [
  ["worker", "null proxy"],
  ["worker2", "null proxy, 2nd copy"],
  ["reader", "reading proxy"],
  ["stoker", "Stoker, later turn"],
  ["stokerFirst", "Stoker, first request"],
  ["slow", "Stoker + slow tracker, later turn"],
  ["slowFirst", "Stoker + slow tracker, first request"],
];

/** p50 / p99 of the per-request difference `a − b` of one metric. */
const addedOver = (g: GroupResult, a: Arm, b: Arm, m: "wall" | "ttfb") =>
  summarize(pairDiff(g.samples[a][m], g.samples[b][m]));

function armTables(groups: GroupResult[], facts: Facts): string[] {
  const out: string[] = [
    "### Every arm, added over direct (ms, p50 / p99)",
    "",
    `One table per metric. Each cell: the per-request difference arm − direct for the same body (first-request arms send the same body with their own first line, the same size), p50 / p99. *null proxy* and its *2nd copy* are the same Worker code on two routes of the reference worker: their difference (last columns) is the noise floor of this measurement. *reading proxy*: the same bundle in an instance of its own, on a route that does the least a proxy does that reads what it forwards and what it was charged (bench/overhead/worker/worker.ts \`readingProxy\`): the body's bytes read, decoded and parsed, and sent on as they came; a JSON answer read whole and parsed for its usage; a stream passed on through a TransformStream that reads its events' usage; no canonicalization, plan, render, record or state. **reading proxy − null** is what reading at all costs in this runtime; **Stoker − reading proxy** is what Stoker does beyond it. *later turn*: the conversation was heard of by this isolate (its earlier turns went through it). *first request*: every request is the first of a new conversation of the family that Stoker hears of; its body carries earlier turns (it continues a conversation), so Stoker first looks for an answer another isolate shared through the Cache API (src/tracker/shared-answers.ts), finds none and plans from what it holds: the miss is paid here, at most SHARED_ANSWERS_WAIT_MS (2 ms). A conversation's real first request (one user message) does not look. *slow tracker*: a second Stoker, from the same bundle, whose tracker answers each lookup and record ${facts.slowTracker} ms late (TRACKER_DELAY_MS), as a tracker in another region would. **Stoker − null** is Stoker's own path; target ≤ 1 ms p50.`,
    "",
  ];
  for (const m of ["wall", "ttfb"] as const) {
    out.push(
      `#### ${m === "wall" ? "Wall (to the last byte)" : "Time to first byte"}`,
      "",
      `| upstream | mode | prompt tokens | body KiB | ${ARM_NAMES.map(([, n]) => n).join(" | ")} | **Stoker − null: later / first / slow later / slow first** | **reading proxy − null / Stoker − reading proxy: later / first** | noise: 2nd copy − null |`,
      `|---|---|---|---|${ARM_NAMES.map(() => "---").join("|")}|---|---|---|`,
    );
    for (const g of groups) {
      const own = (["stoker", "stokerFirst", "slow", "slowFirst"] as Arm[])
        .map((a) => f2(addedOver(g, a, "worker", m).p50))
        .join(" / ");
      const reading = [
        addedOver(g, "reader", "worker", m),
        addedOver(g, "stoker", "reader", m),
        addedOver(g, "stokerFirst", "reader", m),
      ]
        .map((x) => f2(x.p50))
        .join(" / ");
      out.push(
        `| ${label(g)} | ${ARM_NAMES.map(([a]) => pp(addedOver(g, a, "direct", m))).join(" | ")} | **${own}** | **${reading}** | ${pp(addedOver(g, "worker2", "worker", m))} |`,
      );
    }
    out.push("");
  }
  const mem = (xs: number[]) => (xs.length ? xs.map((x) => x.toFixed(0)).join(" + ") : "–");
  out.push(
    `Memory after the latency phase (${facts.memory.requests} requests per ${words(facts).instance}; ${words(facts).rss}): Stoker ${mem(facts.memory.stoker)}; Stoker with the slow tracker ${mem(facts.memory.slow)}; the null-proxy reference (which also hosts a Tracker for the tracker phase) ${mem(facts.memory.worker)}; the reading proxy (half as many requests) ${mem(facts.memory.reader)}. Stoker's isolate cache is bounded by design (20,000 states, 2,000 conversations and families per tenant; src/tracker/client-cache.ts), and the record queue by the tracker's pace (batches of at most 32).`,
  );
  return out;
}

function latencyTables(groups: GroupResult[], facts: Facts): string[] {
  const out: string[] = [];
  out.push(
    "### Stoker vs straight to the simulator (ms)",
    "",
    "Wall: request start (body already serialized) to the last response byte. TTFB: to the first body byte (for a stream, the first SSE event; for JSON, the body). *Added* is the p50/p99 of the per-request difference Stoker − direct for the same body, sent back to back.",
    "",
    "| upstream | mode | prompt tokens | body KiB | N | direct wall p50 / p99 | Stoker wall p50 / p99 | **added wall p50 / p99** | direct TTFB p50 / p99 | Stoker TTFB p50 / p99 | **added TTFB p50 / p99** |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const g of groups) {
    const s = g.samples;
    out.push(
      `| ${label(g)} | ${g.group.n} | ${pp(summarize(s.direct.wall))} | ${pp(summarize(s.stoker.wall))} | **${pp(summarize(pairDiff(s.stoker.wall, s.direct.wall)))}** | ${pp(summarize(s.direct.ttfb))} | ${pp(summarize(s.stoker.ttfb))} | **${pp(summarize(pairDiff(s.stoker.ttfb, s.direct.ttfb)))}** |`,
    );
  }
  out.push(
    "",
    "### Where the added time goes: the local runtime vs Stoker's own path (ms)",
    "",
    `The *reference worker* is a null proxy run by the same runtime (${words(facts).name}), the same way: it forwards the request to the simulator and streams the answer back, nothing else. *Runtime* = reference − direct: what any Worker costs under ${words(facts).name} here (${words(facts).hops}). *Stoker's own path* = Stoker − reference: reading and parsing the body, canonicalize + hash, plan (from the isolate's state: no tracker call), render, the SSE pipe or JSON relay with its usage reader, and whatever the tracker's record of an earlier request (same process locally) takes from the thread. Targets (added p50 ≤ 1 ms; p99 ≤ 3 ms, and p99 within the noise floor's p99 + 3 ms as issue 19 words it) are checked against Stoker's own path, wall time.`,
    "",
    "| upstream | mode | prompt tokens | body KiB | runtime wall p50 / p99 | **Stoker's own wall p50 / p99** | runtime TTFB p50 / p99 | **Stoker's own TTFB p50 / p99** | target met (own wall): p50 ≤ 1 / p99 ≤ 3 / p99 ≤ noise p99 + 3 (that bound) |",
    "|---|---|---|---|---|---|---|---|---|",
  );
  for (const g of groups) {
    const s = g.samples;
    const own = summarize(pairDiff(s.stoker.wall, s.worker.wall));
    out.push(
      `| ${label(g)} | ${pp(summarize(pairDiff(s.worker.wall, s.direct.wall)))} | **${pp(own)}** | ${pp(summarize(pairDiff(s.worker.ttfb, s.direct.ttfb)))} | **${pp(summarize(pairDiff(s.stoker.ttfb, s.worker.ttfb)))}** | ${meets(own, noiseOf(g))} |`,
    );
  }
  out.push(
    "",
    "The simulator's own time per request (its `x-sim-service-ms`: from the whole body read to the response's headers, p50), and Stoker's own path with each request's simulator time taken out of its wall time (p50 / p99 of the per-request difference). Stoker's bodies carry breakpoints and, for Anthropic, a request for cache diagnostics, which the simulator answers by comparing with the previous message: work a null proxy's body does not ask for.",
    "",
    "| upstream | mode | prompt tokens | body KiB | simulator: null proxy | simulator: Stoker later / first | **Stoker − null without it: later / first** |",
    "|---|---|---|---|---|---|---|",
  );
  for (const g of groups) {
    const s = g.samples;
    const later = summarize(pairDiff(withoutService(g, "stoker"), withoutService(g, "worker")));
    const first = summarize(pairDiff(withoutService(g, "stokerFirst"), withoutService(g, "worker")));
    out.push(
      `| ${label(g)} | ${f2(summarize(s.worker.service).p50)} | ${f2(summarize(s.stoker.service).p50)} / ${f2(summarize(s.stokerFirst.service).p50)} | **${pp(later)} / ${pp(first)}** |`,
    );
  }
  return out;
}

function cpuCell(c: GroupCpu): string {
  const parts = Object.entries(c.byCommand)
    .filter(([, v]) => v >= 0.005)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${f2(v)}`);
  return parts.join(", ") || "–";
}

const idleText = (r: Record<string, number>) =>
  Object.entries(r)
    .map(([k, v]) => `${k} ${f2(v * 1000)} ms/s`)
    .join(", ") || "none";

function cpuTable(groups: GroupResult[], facts: Facts): string[] {
  const out = [
    "### CPU per request (ms)",
    "",
    `CPU time (user + system, from /proc) of each ${words(facts).group} — over each group's measured requests, minus each process's idle CPU over the same time (measured for 5 s before the run: ${idleText(facts.idle.stoker)} for Stoker's group, ${idleText(facts.idle.worker)} for the reference's, ${idleText(facts.idle.reader)} for the reading proxy's), divided by N. It includes the tracker Durable Object (lookup and the record after each response) and SQLite, which run in the same workerd. /proc counts in ${CLOCK_TICK_MS} ms ticks per process, so a group total is exact to about ${CLOCK_TICK_MS} ms × processes: divided by N, that is ±${f3((CLOCK_TICK_MS * 4) / 100)} ms at N = 100.`,
    "",
    `Each ${words(facts).instance} but the reading proxy's served two arms (Stoker: later turns and first requests; the reference: both null-proxy copies; the slow-tracker Stoker: both of its arms), so each figure is per request over both; the reading proxy's is per request of its one arm.`,
    "",
    "*Page faults*: minor page faults of the same processes per request: memory touched for the first time, mostly fresh allocations (a 4 KiB page each; a 400 KB body copied into a new string or buffer is about 100). On this machine each costs about 3 µs (bench/report/fault-probe.md, `npm run bench:faults`: pages touched for the first time against the same pages touched again), so the faults of one copy of the whole body into fresh memory cost about 0.3 ms at 100K tokens; that is the machine's cost per page, which differs between machines.",
    "",
    "| upstream | mode | prompt tokens | body KiB | Stoker group CPU | of which | reference group CPU | **Stoker − reference** | reading proxy group CPU | **reading proxy − reference / Stoker − reading proxy** | slow-tracker Stoker group CPU | page faults per request: Stoker / reference / reading proxy |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const g of groups) {
    out.push(
      `| ${label(g)} | ${f2(g.cpu.stoker.totalMs)} | ${cpuCell(g.cpu.stoker)} | ${f2(g.cpu.worker.totalMs)} | **${f2(g.cpu.stoker.totalMs - g.cpu.worker.totalMs)}** | ${f2(g.cpu.reader.totalMs)} | **${f2(g.cpu.reader.totalMs - g.cpu.worker.totalMs)} / ${f2(g.cpu.stoker.totalMs - g.cpu.reader.totalMs)}** | ${f2(g.cpu.slow.totalMs)} | ${g.cpu.stoker.minorFaults.toFixed(0)} / ${g.cpu.worker.minorFaults.toFixed(0)} / ${g.cpu.reader.minorFaults.toFixed(0)} |`,
    );
  }
  return out;
}

/** Stoker − null per request of `arm`, split by whether the request sent just before it was of one of `previous`. */
export function byPrevious(
  g: GroupResult,
  arm: Arm,
  previous: readonly Arm[],
): { after: Summary; other: Summary } {
  const s = g.samples;
  const diffs = pairDiff(s[arm].wall, s.worker.wall);
  const hit = (i: number) => {
    const p = s[arm].after[i];
    return p !== null && p !== undefined && previous.includes(p);
  };
  return {
    after: summarize(diffs.filter((_, i) => hit(i))),
    other: summarize(diffs.filter((_, i) => !hit(i))),
  };
}

/** Later turns right after a first request of the same process, against the others. */
const afterFirst = (g: GroupResult) => byPrevious(g, "stoker", ["stokerFirst"]);

function followTable(groups: GroupResult[]): string[] {
  const out = [
    "### A request right after a first request",
    "",
    "The arms' order is shuffled per round, so some of Stoker's requests are sent the moment another of its own process's answered. A conversation's first request leaves the most work for after its response (its messages hashed, `Prepared.hashLater`; the record built, learned and sent; the body kept), and collections of what it kept: a request that comes meanwhile waits for it, as a request would that reaches a busy isolate in a deploy. Stoker − null proxy, wall, p50 / p99 (n), for Stoker's later turns sent right after one of its first requests, and after anything else (the arms of other processes, or its own later turn).",
    "",
    "| upstream | mode | prompt tokens | body KiB | later turn right after a first request | later turn after anything else | **difference of p50s** |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const g of groups) {
    const { after, other } = afterFirst(g);
    out.push(
      `| ${label(g)} | ${pp(after)} (${after.n}) | ${pp(other)} (${other.n}) | **${f2(after.p50 - other.p50)}** |`,
    );
  }
  return out;
}

function gcTable(groups: GroupResult[], facts: Facts): string[] {
  if (!groups.some((g) => g.gc))
    return [
      "### Garbage collection (V8)",
      "",
      facts.runtime === "miniflare"
        ? "Not measured: no coreutils libstdbuf on this machine to make workerd's `--trace-gc` lines arrive as they are written (bench/overhead/gc.ts)."
        : `Not measured under ${words(facts).name}.`,
    ];
  const out = [
    "### Garbage collection (V8, per request)",
    "",
    `Every collection of the isolates' heaps in each ${words(facts).instance}'s workerd over the group's measured requests, from V8's \`--trace-gc\` lines (bench/overhead/gc.ts: workerd runs with \`MINIFLARE_WORKERD_V8_FLAGS=--trace-gc\` and its stdout line-buffered by coreutils' libstdbuf, so each line arrives as the collection ends), per request over the two arms each instance served. *Minor*: young-generation collections (scavenges); *major*: full collections (mark-compact). The pause is the time the collector held the thread, so a request that arrives meanwhile waits for it: how often that happens, and how long the longest one is, shapes the tail (p99) more than the median. The Stoker process also runs its trackers' Durable Objects${facts.apart ? " (not with `--apart`: they are in a process of their own)" : ""} and, locally, the Cache API.`,
    "",
    "| upstream | mode | prompt tokens | body KiB | Stoker: minor / major per 100 requests | Stoker: pause ms per request | Stoker: longest pause ms | reference: minor / major per 100 | reference: pause ms per request |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const g of groups) {
    if (!g.gc) continue;
    const n = 2 * g.group.n;
    const per100 = (x: number) => ((x / n) * 100).toFixed(1);
    const { stoker, worker } = g.gc;
    out.push(
      `| ${label(g)} | ${per100(stoker.minor)} / ${per100(stoker.major)} | ${f2(stoker.pauseMs / n)} | ${f2(stoker.maxMs)} | ${per100(worker.minor)} / ${per100(worker.major)} | ${f2(worker.pauseMs / n)} |`,
    );
  }
  return out;
}

function profileSection(profiles: Profiled[], facts: Facts): string[] {
  if (profiles.length === 0)
    return [
      "### Where Stoker's isolate spends its time (V8 sampling profile)",
      "",
      "Not run (`--no-profile`).",
    ];
  const g0 = profiles.find((p) => p.breakdown)?.breakdown;
  const out = [
    "### Where Stoker's isolate spends its time (V8 sampling profile, ms per request)",
    "",
    `A separate phase after the latency runs: ${facts.profiled} requests per group to Stoker alone while V8's sampling profiler (through ${facts.runtime === "miniflare" ? "workerd's inspector, on a Stoker instance of its own (same bundle and vars)" : "wrangler dev's inspector"}, one sample every ${g0?.intervalUs ?? 200} µs) samples the isolate that runs the Worker and its Durable Objects. Each sample goes to the nearest Stoker source file on its stack (bundle source map), so a SQLite call counts for the tracker code that made it; *runtime* is what ran with no Stoker frame on the stack (stream and socket work, GC, the runtime's own JavaScript). The sampler counts wall time of the isolate's thread while it is busy, so time the thread spent preempted (2 cores, shared) lands in whatever was running; the profiler itself slows execution too. Read the columns as shares more than as absolute CPU; compare with the /proc CPU table.`,
    "",
    `| upstream | mode | prompt tokens | ${CATEGORIES.join(" | ")} | **busy total** |`,
    `|---|---|---|${CATEGORIES.map(() => "---").join("|")}|---|`,
  ];
  for (const p of profiles) {
    const g = p.group;
    const head = `| ${g.upstream === "anthropic" ? "Anthropic Messages" : "OpenAI Chat"} | ${g.stream ? "stream" : "JSON"} | ${g.tokens / 1000}K`;
    if (!p.breakdown) {
      out.push(`${head} | profile failed: ${p.error ?? "?"} |`);
      continue;
    }
    const b = p.breakdown;
    const share = (v: number) => `${f2(v)} (${Math.round((v / Math.max(b.busyMsPerRequest, 1e-9)) * 100)} %)`;
    out.push(
      `${head} | ${CATEGORIES.map((c) => share(b.perRequest[c])).join(" | ")} | **${f2(b.busyMsPerRequest)}** |`,
    );
  }
  out.push(
    "",
    "Top functions per group (samples of the function and of the natives it called, ms per request):",
    "",
  );
  for (const p of profiles) {
    if (!p.breakdown) continue;
    const g = p.group;
    const top = p.breakdown.top.map((t) => `${t.fn} ${f2(t.ms)}`).join("; ");
    out.push(`- ${g.upstream} ${g.stream ? "stream" : "JSON"} ${g.tokens / 1000}K: ${top}`);
  }
  return out;
}

function engineSection(engine: EngineRows | null, facts: Facts): string[] {
  if (!engine) return ["### Engine CPU", "", "Not run (`--no-engine`); see `npm run bench:engine`."];
  if (!engine.ok) return ["### Engine CPU", "", "The engine bench failed:", "", "```", engine.note, "```"];
  return [
    "### Stoker's own CPU inside workerd (quoted from bench/engine)",
    "",
    `\`npm run bench:engine\`, run by this script on the same machine after the ${words(facts).name} processes stopped (workerd's clock ticks in whole ms: each sample times a batch). First, Stoker's own request path as the worker runs it (bench/engine/request-path.bench.test.ts), on this benchmark's bodies: reading and parsing the body, \`prepare\` with the plan inputs the isolate holds, the bytes sent upstream, and after the response the record built and learned from; means per request. This is the CPU the targets (0.2 ms at 2K, 1 ms at 100K) are checked against. bench/report/engine.md says how it is measured.`,
    "",
    ...engine.pathHeader,
    ...engine.pathRows,
    "",
    `Then the engine alone (bench/engine/engine.bench.test.ts): canonicalize + hash (analyze), plan without state and render, JSON.parse excluded, p50/p99 over 40 batch means, on bodies of its own (tools, an 1800-token system prompt, an agent conversation whose tool arguments are in sorted key order; sizes in o200k tokens).`,
    "",
    ...engine.header,
    ...engine.rows,
  ];
}

function trackerSection(cells: CellResult[]): string[] {
  const out = [
    "### Tracker lookup RPC (ms, local)",
    "",
    "What a request would pay if it asked the tracker: no proxied request does any more (issue 19: plans come from the isolate's state, `src/tracker/client.ts` `planLookup`, and the record's answer warms it); only a dev-clock request sent with `x-stoker-dev-await-tracker` still sends a lookup. Stoker's Tracker class (unchanged, behind the reference worker's `/t/lookup`) queried with the chain hashes of each realistic request, while the conversations it was built from are recorded, so lookups find real rows. *Added* = the lookup route − a `/t/noop` route with the same body, back to back in alternating order: the Durable Object RPC, validation and the SQLite query, with the HTTP hop and JSON parsing cancelled. Both the DO and the caller are in one local workerd; a deployed tracker may be in another data center than the request.",
    "",
    "| upstream | prompt size | lookups | hashes per lookup | **added p50 / p99** | lookup route p50 / p99 | noop route p50 / p99 |",
    "|---|---|---|---|---|---|---|",
  ];
  const keys = [...new Set(cells.map((c) => `${c.cell.upstream}|${c.cell.tokens}`))];
  for (const k of keys) {
    const cs = cells.filter((c) => `${c.cell.upstream}|${c.cell.tokens}` === k);
    const [upstream, tokens] = k.split("|");
    const all = (pick: (c: CellResult) => number[]) => cs.flatMap(pick);
    out.push(
      `| ${upstream} | ${Number(tokens) / 1000}K | ${all((c) => c.lookupDiff).length} | ${f2(mean(all((c) => c.hashes)))} | **${pp(summarize(all((c) => c.lookupDiff)), f3)}** | ${pp(summarize(all((c) => c.lookupRtt)), f3)} | ${pp(summarize(all((c) => c.noopRtt)), f3)} |`,
    );
  }
  out.push(
    "",
    "### Tracker record (ms, off the request path) and storage per entry",
    "",
    "`record` runs after the response (waitUntil, coalesced per isolate into `recordMany` batches), so it adds nothing to the client's time and no request waits for its answer; it does occupy the tenant's Durable Object, and locally the same thread as the requests. *Added* as for lookups (record route − noop with the same body). *managed*: Anthropic requests of a managed tenant, whose record carries the keepalive capture (the forwarded body, AES-GCM sealed and stored); *no-capture*: pass-through tenants and OpenAI. Storage: SQLite's `databaseSize` and row counts of the tenant's object before and after the cell's conversations; a *tracked entry* is a row of `prefixes` (one chain position Stoker tracks); *per tracked entry* divides the growth of the whole database (every table: accounting rows, gaps, chains, sealed keepalive bodies) by the new `prefixes` rows.",
    "",
    "| upstream | tenant | prompt size | records | record body KiB | **record added p50 / p99** | Δ prefixes rows | Δ rows, all tables | Δ bytes | **rows / bytes per tracked entry** | rows / bytes per request | rows added by table |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const c of cells) {
    const d: Record<string, number> = {};
    for (const [t, n] of Object.entries(c.after.rows)) d[t] = n - (c.before.rows[t] ?? 0);
    const prefixes = d.prefixes ?? 0;
    const rows = Object.values(d).reduce((a, b) => a + b, 0);
    const bytes = c.after.databaseSize - c.before.databaseSize;
    const byTable = Object.entries(d)
      .filter(([, n]) => n !== 0)
      .map(([t, n]) => `${t} ${n}`)
      .join(", ");
    out.push(
      `| ${c.cell.upstream} | ${c.cell.kind} | ${c.cell.tokens / 1000}K | ${c.records} | ${f2(mean(c.recordBytes) / 1024)} | **${pp(summarize(c.recordDiff))}** | ${prefixes} | ${rows} | ${bytes} | **${prefixes > 0 ? `${f2(rows / prefixes)} / ${Math.round(bytes / prefixes)}` : "–"}** | ${f2(rows / Math.max(1, c.records))} / ${Math.round(bytes / Math.max(1, c.records))} | ${byTable} |`,
    );
  }
  const withBytes = cells.find((c) => c.after.bytes !== null);
  out.push(
    "",
    withBytes
      ? `Bytes by table and index (SQLite dbstat) for the last cell with them (${withBytes.cell.upstream} ${withBytes.cell.kind} ${withBytes.cell.tokens / 1000}K): ${Object.entries(
          withBytes.after.bytes ?? {},
        )
          .map(([t, b]) => `${t} ${b}`)
          .join(", ")}.`
      : "Bytes per table: not available — workerd's SQLite does not expose the `dbstat` table, so only whole-database sizes are reported.",
  );
  return out;
}

function sanity(groups: GroupResult[], cells: CellResult[], facts: Facts): string[] {
  const out = [
    "### Checks",
    "",
    `Every response was checked (HTTP 200; JSON parses; a stream ends with \`message_stop\` / \`[DONE]\`; Stoker's carries \`x-stoker-plan\`). *Other load*: CPU used during the group by processes this benchmark did not start (other people's tests, the kernel), in cores, from /proc/stat minus this run's own processes; on 2 cores anything above ${BUSY} disturbs the figures, and such groups are marked † in every table. Cache read share: the share of prompt tokens the simulator served from cache over the measured requests, per arm (each arm has its own simulator namespace) — the direct and reference arms send the client's body, which has no cache markers.`,
    "",
    "| upstream | mode | prompt tokens | body KiB | failures | other load (cores) | cache read: direct / reference / Stoker | Stoker's plan (first request) |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const g of groups) {
    out.push(
      `| ${label(g)} | ${g.failures.length} | ${f2(g.otherLoad)} | ${pct(g.cacheRead.direct)} / ${pct(g.cacheRead.worker)} / ${pct(g.cacheRead.stoker)} | \`${g.plan ?? ""}\` |`,
    );
  }
  const trackerFailures = cells.flatMap((c) => c.failures);
  out.push(
    "",
    `Stoker's log during the run: ${facts.faults.trackerTimeouts + facts.faults.trackerOther} tracker faults (the slow-tracker instance: ${facts.faults.slowTracker}), ${facts.faults.engine} engine faults. Tracker phase failures: ${trackerFailures.length}${trackerFailures.length ? ` (${trackerFailures.slice(0, 3).join("; ")})` : ""}.`,
  );
  return out;
}

/** Each request's wall time less the simulator's own time on it (NaN where the header was missing). */
function withoutService(g: GroupResult, a: Arm): number[] {
  const s = g.samples[a];
  return s.wall.map((w, i) => w - (s.service[i] ?? Number.NaN));
}

/**
 * Stoker's own in-isolate request path per later-turn row (mean), e.g. "anthropic 2K 0.578 ms", and the
 * engine's total p50 per row.
 */
function engineSummary(engine: EngineRows | null): string {
  if (!engine?.ok)
    return "Stoker's own in-isolate share was not measured in this run (`npm run bench:engine`)";
  const path = engine.pathRows
    .map(pathMean)
    .filter((r): r is NonNullable<typeof r> => r?.turn === "later turn")
    .map((r) => `${r.name} ${r.mean} ms`);
  const totals = engine.rows
    .map(engineTotal)
    .filter((r) => r !== null)
    .map((r) => `${r.name} ${r.p50} ms`);
  return `Stoker's own request path in its isolate (bench/engine: read + parse, prepare with the isolate's state, the body sent; later turns, mean): ${path.join(", ")}; the engine alone, on bodies of its own without state (p50): ${totals.join(", ")}`;
}

export function render(
  facts: Facts,
  groups: GroupResult[],
  profiles: Profiled[],
  cells: CellResult[],
  engine: EngineRows | null,
): string {
  const ns = [...new Set(groups.map((g) => `${g.group.tokens / 1000}K: ${g.group.n}`))].join(", ");
  const range = (xs: number[]) => `${f2(Math.min(...xs))}–${f2(Math.max(...xs))}`;
  const over = (pick: (g: GroupResult) => number[]) => groups.map((g) => summarize(pick(g)));
  const added = over((g) => pairDiff(g.samples.stoker.wall, g.samples.direct.wall));
  const runtime = over((g) => pairDiff(g.samples.worker.wall, g.samples.direct.wall));
  const own = over((g) => pairDiff(g.samples.stoker.wall, g.samples.worker.wall));
  const ownTtfb = over((g) => pairDiff(g.samples.stoker.ttfb, g.samples.worker.ttfb));
  const served = (a: Arm) =>
    groups.map((g) => summarize(pairDiff(withoutService(g, a), withoutService(g, "worker"))).p50);
  const serviceMore = (a: Arm) =>
    groups.map((g) => summarize(pairDiff(g.samples[a].service, g.samples.worker.service)).p50);
  const met = own.map((s, i) => targets(s, noiseOf(groups[i] as GroupResult)));
  const metBoth = met.filter((t) => t.p50 && t.p99).length;
  const metP50 = met.filter((t) => t.p50).length;
  const metSpread = met.filter((t) => t.spread).length;
  const lookups = [...new Set(cells.map((c) => `${c.cell.upstream}|${c.cell.tokens}`))].map((k) =>
    summarize(cells.filter((c) => `${c.cell.upstream}|${c.cell.tokens}` === k).flatMap((c) => c.lookupDiff)),
  );
  const records = cells.map((c) => summarize(c.recordDiff));
  const cpuOwn = groups.map((g) => g.cpu.stoker.totalMs - g.cpu.worker.totalMs);
  const gcOf = (w: "stoker" | "worker", f: (s: GcStats, n: number) => number) =>
    groups.flatMap((g) => (g.gc ? [f(g.gc[w], 2 * g.group.n)] : []));
  const busy = groups.filter((g) => g.otherLoad > BUSY).length;
  const ownOf = (a: Arm, m: "wall" | "ttfb") => groups.map((g) => addedOver(g, a, "worker", m).p50);
  const ownP99Of = (a: Arm) => groups.map((g) => addedOver(g, a, "worker", "wall").p99);
  const noise = groups.map((g) => noiseOf(g).p50);
  const byMode = (stream: boolean, a: Arm, m: "wall" | "ttfb", b: Arm = "worker") =>
    groups.filter((g) => g.group.stream === stream).map((g) => addedOver(g, a, b, m).p50);
  // Streams are read at their first byte here, JSON answers at their last (issue 19's table).
  const judged = (a: Arm, b: Arm, of = groups) =>
    of.map((g) => addedOver(g, a, b, g.group.stream ? "ttfb" : "wall").p50);
  const bySize = (tokens: number, a: Arm, b: Arm) =>
    judged(
      a,
      b,
      groups.filter((g) => g.group.tokens === tokens),
    );
  const sizes = [...new Set(groups.map((g) => g.group.tokens))];
  const followed = groups.map(afterFirst).filter((x) => x.after.n > 0);
  const withinOfReading = judged("stoker", "reader").filter((x) => x <= 1).length;
  const summary = [
    "## Summary",
    "",
    `- **Stoker's own path, p50 of Stoker − null proxy** (wall, all ${groups.length} groups): later turns ${range(ownOf("stoker", "wall"))} ms, a conversation's first request ${range(ownOf("stokerFirst", "wall"))} ms (p99: later turns ${range(ownP99Of("stoker"))}, first requests ${range(ownP99Of("stokerFirst"))} ms); with a tracker answering ${facts.slowTracker} ms late: ${range(ownOf("slow", "wall"))} / ${range(ownOf("slowFirst", "wall"))} ms. Noise floor (2nd null-proxy copy − null proxy): ${range(noise)} ms. JSON: later ${range(byMode(false, "stoker", "wall"))}, first ${range(byMode(false, "stokerFirst", "wall"))} ms; stream TTFB: later ${range(byMode(true, "stoker", "ttfb"))}, first ${range(byMode(true, "stokerFirst", "ttfb"))} ms. Target: within 1 ms of the null proxy at p50.`,
    `- **What reading at all costs, and what Stoker does beyond it**: the reading proxy (it reads, decodes and parses the body and reads the answer's usage, nothing else) − null proxy, p50 (JSON at the last byte, streams at the first): ${sizes.map((t) => `${t / 1000}K ${range(bySize(t, "reader", "worker"))}`).join(", ")} ms; a stream's last byte ${range(byMode(true, "reader", "wall"))} ms. **Stoker − reading proxy**, p50, later turns: ${sizes.map((t) => `${t / 1000}K ${range(bySize(t, "stoker", "reader"))}`).join(", ")} ms (first requests ${range(judged("stokerFirst", "reader"))}); within 1 ms of the reading proxy in ${withinOfReading} of ${groups.length} groups. A target of 1 ms over the null proxy is below what reading alone costs wherever the first figure is above 1 ms.`,
    `- **Without the simulator's extra work**: Stoker asks the simulator for more than the null proxy does (breakpoints; Anthropic cache diagnostics, which it answers by comparing with the previous message), and the simulator shares this process. Its own time per request (\`x-sim-service-ms\`: the whole body read to the response's headers) is ${range(serviceMore("stoker"))} ms longer for Stoker's later turns and ${range(serviceMore("stokerFirst"))} ms for first requests (p50 of the per-request difference). Taken out of each request's wall time, Stoker − null is p50 ${range(served("stoker"))} ms on later turns and ${range(served("stokerFirst"))} ms on first requests. The target is still checked on the wall time above.`,
    `- **Added wall time, Stoker − direct** (per pair, all ${groups.length} groups): p50 ${range(added.map((s) => s.p50))} ms, p99 ${range(added.map((s) => s.p99))} ms.`,
    `- Of that, **the local runtime** (null-proxy reference − direct) is p50 ${range(runtime.map((s) => s.p50))} ms, and **Stoker's own path** (Stoker − reference) p50 ${range(own.map((s) => s.p50))} ms, p99 ${range(own.map((s) => s.p99))} ms; time to first byte ${range(ownTtfb.map((s) => s.p50))} ms at p50. **Target (p50 ≤ 1 ms, p99 ≤ 3 ms) met in ${metBoth} of ${groups.length} groups** under ${words(facts).name} on this machine; p50 ≤ 1 ms alone in ${metP50}, p99 within the noise floor's p99 + 3 ms (issue 19's wording) in ${metSpread}.`,
    `- **Tracker lookup**, added wall time of the RPC (local, same process): p50 ${range(lookups.map((s) => s.p50))} ms, p99 ${range(lookups.map((s) => s.p99))} ms, now paid by no proxied request (plans come from the isolate's state; the record's answer warms it). **record** (after the response, never waited for): p50 ${range(records.map((s) => s.p50))} ms, p99 ${range(records.map((s) => s.p99))} ms.`,
    `- **CPU per request**, Stoker's ${words(facts).name} process group − the reference's: ${range(cpuOwn)} ms (2K to 100K)${facts.apart ? `, and the trackers' processes ${range(groups.map((g) => g.helperCpuMs))} ms more a Stoker request (idle included; counted as the benchmark's own load, not as other load)` : ""}; ${engineSummary(engine)}${profiles.length > 0 ? "; the V8 profile below splits the rest" : ""}.`,
    ...(groups.some((g) => g.gc)
      ? [
          `- **Garbage collection** in Stoker's process: ${range(gcOf("stoker", (s, n) => s.pauseMs / n))} ms of pauses per request (the reference's ${range(gcOf("worker", (s, n) => s.pauseMs / n))}), the longest ${range(gcOf("stoker", (s) => s.maxMs))} ms in a group; a request that comes during one waits for it (the table below).`,
        ]
      : []),
    ...(followed.length === 0
      ? []
      : [
          `- **After a first request**: a later turn sent the moment one of Stoker's first requests answered waits for what that request does after its response; Stoker − null, p50, of such later turns is ${range(followed.map((x) => x.after.p50 - x.other.p50))} ms above the other later turns' (${Math.min(...followed.map((x) => x.after.n))}–${Math.max(...followed.map((x) => x.after.n))} such later turns a group, of ${Math.min(...groups.map((g) => g.group.n))}–${Math.max(...groups.map((g) => g.group.n))}; the table below).`,
        ]),
    `- Machine load: ${busy} of ${groups.length} groups ran while other processes used more than ${BUSY} of a core (marked †; their p99s are suspect); load average at the end ${facts.load.map((x) => x.toFixed(2)).join(" / ")} (1 / 5 / 15 min) on ${facts.cpus} cores shared with other sessions' work.`,
  ];
  return [
    `# Stoker overhead benchmark${facts.apart ? ", as a deploy runs it (trackers in a process of their own)" : ""}`,
    "",
    `Generated by \`node bench/overhead/run.ts${facts.args.map((a) => ` ${a}`).join("")}\` (\`npm run bench:overhead --${facts.args.map((a) => ` ${a}`).join("")}\`) on ${facts.date}${facts.quick ? " (**--quick: smoke-test sample sizes, not for conclusions**)" : ""}. Took ${sec(facts.durations.totalMs)}: latency ${sec(facts.durations.latencyMs)}, profile ${sec(facts.durations.profileMs)}, tracker ${sec(facts.durations.trackerMs)}, engine bench ${sec(facts.durations.engineMs)}, the rest bundling and starting the Workers. **Runtime: ${words(facts).name}** (\`--runtime=${facts.runtime}\`).`,
    "",
    `Machine: ${facts.cpus} cores (${facts.cpuModel}), ${facts.memGiB} GiB, Linux ${facts.kernel}; Node ${facts.node}, wrangler ${facts.wrangler}, miniflare ${facts.miniflare}, workerd ${facts.workerd}. Everything shares these ${facts.cpus} cores: the load generator and the simulator (one Node process), four ${words(facts).instance}s (Stoker; Stoker with a slow tracker; the reference worker; the reading proxy), so all requests run one at a time (concurrency 1) and the figures are latencies, not throughput.`,
    "",
    `Setup: the provider simulator runs in the benchmark's own process (sim/server.ts, loopback). Stoker runs ${words(facts).served}, from the bundle \`wrangler deploy --dry-run\` makes (a snapshot, so edits to src/ during the run cannot reload it), with the bindings, Durable Objects (SQLite) and compatibility flags of wrangler.toml, ${words(facts).persist}, the upstream URLs at the simulator, \`STOKER_SIMULATOR=1\`, one managed tenant whose key is stored as its SHA-256, no wait for the tracker (as in a deploy) and \`LOG_LEVEL=warn\` (only faults log at warn; per-request lines are info). Bodies: tools, a system prompt of 20 % of the prompt (at most 6K tokens) and an agent conversation (text, tool calls, tool results); every request of a group shares that prefix and ends with a new last message, so the planner and the tracker do their real work (new tail positions are recorded on each request). Each group has its own simulator namespace per arm. N per arm and group: ${ns}, after ${groups[0]?.group.warmup ?? 0} warm-up rounds. Clients send \`accept-encoding: identity\` (the local runtime would otherwise gzip Stoker's JSON answers and not the simulator's).`,
    "",
    words(facts).caveat,
    ...(busy > groups.length / 2
      ? [
          "",
          `**Ran under other load**: in ${busy} of ${groups.length} groups other processes used more than ${BUSY} of a core (up to ${Math.max(...groups.map((g) => g.otherLoad)).toFixed(2)} of ${facts.cpus}; load average at the end ${facts.load.map((x) => x.toFixed(2)).join(" / ")}). Differences of a few milliseconds here are noise; do not quote these figures as the machine's.`,
        ]
      : []),
    "",
    ...summary,
    "",
    "## Details",
    "",
    ...armTables(groups, facts),
    "",
    ...latencyTables(groups, facts),
    "",
    ...cpuTable(groups, facts),
    "",
    ...gcTable(groups, facts),
    "",
    ...followTable(groups),
    "",
    ...profileSection(profiles, facts),
    "",
    ...engineSection(engine, facts),
    "",
    ...trackerSection(cells),
    "",
    ...sanity(groups, cells, facts),
    "",
    "### Not measured",
    "",
    `- Per-request CPU time as Cloudflare bills it: workerd reports no per-request CPU locally (and its clocks in a Worker tick in whole milliseconds), so Stoker's CPU above is process CPU of the whole ${words(facts).name} process group, runtime included; the engine's share is bench/engine's in-isolate figure.`,
    facts.apart
      ? "- The tracker in production: here it runs in a workerd process of its own on the same cores (its records take CPU from the machine, not from Stoker's process); in a deploy it lives in one location and no request waits for it (the slow-tracker arm stands for a far one)."
      : "- The tracker in production: here it shares the process and the thread with the requests (its records take CPU from them); in a deploy it lives in one location and no request waits for it (the slow-tracker arm stands for a far one).",
    "- Lookups against a tracker at its row cap (20,000 prefixes): the trackers here hold at most a few hundred rows.",
    "- Concurrency and throughput: one request at a time on 2 cores.",
    "",
  ].join("\n");
}

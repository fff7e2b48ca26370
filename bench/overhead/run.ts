// Stoker's overhead benchmark: `node bench/overhead/run.ts [--quick] [--n=K] [--no-profile] [--no-engine]
// [--runtime=miniflare|wrangler] [--apart] [--out=FILE]`.
// Starts the simulator in this process, Stoker and a null-proxy reference worker in workerd through
// Miniflare's API (default) or under wrangler dev (both from bundles made at the start), then measures: (1) added wall time and time to first byte against the
// simulator, per pair, and CPU per request of each worker's process group; (2) the tracker's lookup and
// record RPCs and its storage per entry; (3) the engine's CPU, quoted from bench/engine. Writes
// bench/report/overhead.md (or FILE) and prints it.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startSimulator } from "../../sim/server.ts";
import { warmupArg } from "./args.ts";
import { benchTenant } from "./bench-tenant.ts";
import { bodyFactory } from "./bodies.ts";
import { groupCpu, groupRssMiB, idleRates } from "./cpu.ts";
import { type EngineRows, engineBench } from "./engine.ts";
import { GC_TRACED } from "./gc.ts";
import { type Group, type GroupResult, runGroup, sender, type Targets } from "./latency.ts";
import { serveMiniflare, serveTrackerApart } from "./miniflare.ts";
import { freePort, stopAll } from "./procs.ts";
import { profileStoker } from "./profile.ts";
import { type Facts, type Profiled, render } from "./report.ts";
import { type Cell, type CellResult, runCell } from "./tracker-probe.ts";
import { bundle, ROOT, serve as serveWrangler } from "./wrangler.ts";

const flags = new Set(process.argv.slice(2));
const quick = flags.has("--quick");
const withEngine = !flags.has("--no-engine");
const withProfile = !flags.has("--no-profile");
/** `--n=K`: K requests per arm and group at every size (the profile phase at --quick sizes). */
const nFlag = Number(process.argv.find((a) => a.startsWith("--n="))?.slice(4) ?? Number.NaN);
const light = quick || Number.isFinite(nFlag);
/** `--name=value` or `--name value`. */
function flagValue(name: string): string | undefined {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  if (i >= 0) return args[i + 1];
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}
/**
 * `--runtime=miniflare` (default): each worker in workerd through Miniflare's API, requests straight to
 * the worker's socket. `--runtime=wrangler`: each worker under `wrangler dev` (its proxy worker, a second
 * workerd process, the inspector on), for comparison with earlier reports.
 */
const runtimeFlag = flagValue("runtime") ?? "miniflare";
if (runtimeFlag !== "miniflare" && runtimeFlag !== "wrangler")
  throw new Error(`--runtime=${runtimeFlag}: miniflare or wrangler`);
const runtime: "miniflare" | "wrangler" = runtimeFlag;
/**
 * `--apart` (Miniflare only): both Stokers served as a deploy runs them, their tenants' trackers in a workerd
 * process of their own and their Cache API a no-op (miniflare.ts `serveTrackerApart`).
 */
const apart = flags.has("--apart");
if (apart && runtime !== "miniflare") throw new Error("--apart: with --runtime=miniflare only");
const serve = runtime === "miniflare" ? serveMiniflare : serveWrangler;
const serveStoker: typeof serve = apart ? serveTrackerApart : serve;
/** `--out=FILE`: where the report goes (default bench/report/overhead.md). */
const outFile = flagValue("out");

const SIZES = [2_000, 20_000, 100_000];
// Requests per arm and group: p99 is an observed value only with >= 100 samples.
const N: Record<number, number> = Number.isFinite(nFlag)
  ? { 2000: nFlag, 20000: nFlag, 100000: nFlag }
  : quick
    ? { 2000: 20, 20000: 15, 100000: 10 }
    : { 2000: 300, 20000: 200, 100000: 120 };
/** `--warmup=K`: requests per arm before each group is measured (an isolate that has served more runs more of its code in V8's upper tiers). */
const WARMUP = warmupArg(flagValue("warmup"), quick ? 3 : 10);
const PROFILED = light ? 10 : 100;
// The tracker phase takes seconds: its full size even with --n (6 records a cell could not tell a capture's cost).
const TRACKER = quick ? { conversations: 2, turns: 3 } : { conversations: 6, turns: 10 };
/** The second Stoker's tracker answers this late (TRACKER_DELAY_MS): a tracker in another region. */
const SLOW_TRACKER = "50-100";

const GROUPS: Group[] = SIZES.flatMap((tokens) =>
  (["anthropic", "openai"] as const).flatMap((upstream) =>
    [false, true].map((stream) => ({ upstream, tokens, stream, n: N[tokens] as number, warmup: WARMUP })),
  ),
);
const CELLS: Cell[] = SIZES.flatMap((tokens) => [
  { upstream: "anthropic" as const, tokens, kind: "managed" as const, ...TRACKER },
  { upstream: "anthropic" as const, tokens, kind: "no-capture" as const, ...TRACKER },
  { upstream: "openai" as const, tokens, kind: "no-capture" as const, ...TRACKER },
]);

const version = (pkg: string) =>
  (JSON.parse(readFileSync(join(ROOT, "node_modules", pkg, "package.json"), "utf8")) as { version: string })
    .version;

function log(msg: string): void {
  process.stderr.write(`[overhead ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

async function main(): Promise<void> {
  const began = performance.now();
  const runId = Date.now().toString(36);
  const tmp = mkdtempSync(join(tmpdir(), "stoker-overhead-"));
  // One recorded request per namespace: the benchmark reads none, and 1,000 bodies of 400 KB per arm and
  // group would grow this process (the client of every arm) by gigabytes, and its collector's pauses with it.
  const sim = await startSimulator({ port: 0, host: "127.0.0.1", maxRecordedRequests: 1 });
  try {
    log(`simulator at ${sim.url}; bundling into ${tmp}`);
    const [stokerEntry, workerEntry] = await Promise.all([
      bundle(join(ROOT, "wrangler.toml"), join(tmp, "stoker")),
      bundle(join(ROOT, "bench/overhead/worker/wrangler.toml"), join(tmp, "worker")),
    ]);
    // wrangler leaves a .wrangler/tmp beside a config it bundles; the reference worker's is ours to remove.
    rmSync(join(ROOT, "bench/overhead/worker/.wrangler"), { recursive: true, force: true });
    const { tenantKey, vars: stokerVars } = benchTenant(sim.url);
    const inspectorPort = await freePort();
    const [stoker, worker, reader, slow] = await Promise.all([
      serveStoker(
        "stoker",
        stokerEntry,
        join(ROOT, "wrangler.toml"),
        stokerVars,
        join(tmp, "state-stoker"),
        // Miniflare: no inspector while latency is measured; the profile phase starts a Stoker of its own.
        runtime === "wrangler" ? inspectorPort : 0,
      ),
      serve(
        "reference worker",
        workerEntry,
        join(ROOT, "bench/overhead/worker/wrangler.toml"),
        // The reference worker hosts the Tracker too: local development with the simulator, like Stoker.
        { SIM_URL: sim.url, STOKER_SIMULATOR: "1" },
        join(tmp, "state-worker"),
      ),
      // The reading proxy: the same bundle in an instance of its own, so that its CPU is its own.
      serve(
        "reading proxy",
        workerEntry,
        join(ROOT, "bench/overhead/worker/wrangler.toml"),
        { SIM_URL: sim.url, STOKER_SIMULATOR: "1" },
        join(tmp, "state-reader"),
      ),
      serveStoker(
        "stoker, slow tracker",
        stokerEntry,
        join(ROOT, "wrangler.toml"),
        { ...stokerVars, TRACKER_DELAY_MS: SLOW_TRACKER },
        join(tmp, "state-slow"),
      ),
    ]);
    log(
      `stoker at ${stoker.url}, reference worker at ${worker.url}, reading proxy at ${reader.url}, slow-tracker stoker at ${slow.url}`,
    );

    // Idle CPU of each wrangler dev group (timers, the dev server's own polling), subtracted per command below.
    const idleMs = 5000;
    const idle0 = {
      stoker: groupCpu(stoker.child.pgid),
      worker: groupCpu(worker.child.pgid),
      reader: groupCpu(reader.child.pgid),
      slow: groupCpu(slow.child.pgid),
    };
    await sleep(idleMs);
    const idle = {
      stoker: idleRates(idle0.stoker, groupCpu(stoker.child.pgid), idleMs),
      worker: idleRates(idle0.worker, groupCpu(worker.child.pgid), idleMs),
      reader: idleRates(idle0.reader, groupCpu(reader.child.pgid), idleMs),
      slow: idleRates(idle0.slow, groupCpu(slow.child.pgid), idleMs),
    };
    const targets: Targets = {
      sim: sim.url,
      worker: worker.url,
      reader: reader.url,
      stoker: stoker.url,
      slow: slow.url,
      stokerPgid: stoker.child.pgid,
      workerPgid: worker.child.pgid,
      readerPgid: reader.child.pgid,
      slowPgid: slow.child.pgid,
      helperPgids: [...(stoker.helpers ?? []), ...(slow.helpers ?? [])].map((c) => c.pgid),
      tenantKey,
      idle,
      ...(runtime === "miniflare" && GC_TRACED
        ? {
            outputs: {
              stoker: () => stoker.child.output(),
              worker: () => worker.child.output(),
              slow: () => slow.child.output(),
            },
          }
        : {}),
    };

    const groups: GroupResult[] = [];
    const phase1 = performance.now();
    for (const [i, g] of GROUPS.entries()) {
      log(`latency ${g.upstream} ${g.tokens / 1000}K ${g.stream ? "stream" : "json"} x${g.n}`);
      groups.push(await runGroup(targets, g, 1000 + i, runId));
    }
    const phase1Ms = performance.now() - phase1;
    const requestsPerProcess = 2 * GROUPS.reduce((a, g) => a + g.n + g.warmup, 0);
    const memory = {
      stoker: groupRssMiB(stoker.child.pgid),
      worker: groupRssMiB(worker.child.pgid),
      reader: groupRssMiB(reader.child.pgid),
      slow: groupRssMiB(slow.child.pgid),
      requests: requestsPerProcess,
    };

    // CPU profile of Stoker's isolate, Stoker alone, after the latency phase so the profiler slows nothing there.
    const profiles: Profiled[] = [];
    const profilePhase = performance.now();
    // Under Miniflare the latency instances run without an inspector: the profile gets a Stoker of its own
    // (same bundle and vars, fresh state; each group's first requests below introduce its conversations).
    const profiled =
      withProfile && runtime === "miniflare"
        ? await serve(
            "stoker, profiled",
            stokerEntry,
            join(ROOT, "wrangler.toml"),
            stokerVars,
            join(tmp, "state-profiled"),
            inspectorPort,
          )
        : stoker;
    const profileTargets: Targets = { ...targets, stoker: profiled.url };
    for (const [i, g] of (withProfile ? GROUPS : []).entries()) {
      log(`profile ${g.upstream} ${g.tokens / 1000}K ${g.stream ? "stream" : "json"} x${PROFILED}`);
      const failed = profiles.find((p) => p.error !== null);
      if (failed) {
        profiles.push({ group: g, breakdown: null, error: "skipped after the first failure" });
        continue;
      }
      const s = sender(profileTargets, g, "stoker", `ovh-${runId}-profile-${i}`);
      const make = bodyFactory(g.upstream, g.tokens, g.stream, 1000 + i);
      try {
        for (let k = 0; k < 3; k++) await s.send(make(2_000_000 + k));
        const breakdown = await profileStoker(inspectorPort, `${stokerEntry}.map`, PROFILED, async () => {
          for (let k = 0; k < PROFILED; k++) {
            const bad = s.check(await s.send(make(3_000_000 + k)));
            if (bad) throw new Error(bad);
          }
        });
        profiles.push({ group: g, breakdown, error: null });
      } catch (err) {
        profiles.push({ group: g, breakdown: null, error: err instanceof Error ? err.message : String(err) });
      } finally {
        s.close();
      }
    }

    const cells: CellResult[] = [];
    const profileMs = performance.now() - profilePhase;

    const phase2 = performance.now();
    for (const [i, cell] of CELLS.entries()) {
      log(`tracker ${cell.kind} ${cell.upstream} ${cell.tokens / 1000}K x${cell.conversations * cell.turns}`);
      cells.push(await runCell(worker.url, sim.url, cell, 5000 + i * 1000, runId));
    }
    const phase2Ms = performance.now() - phase2;

    const stokerLog = stoker.child.output() + (profiled === stoker ? "" : profiled.child.output());
    const faults = {
      trackerTimeouts: (stokerLog.match(/"tracker\.fault"[^\n]*"timeout"/g) ?? []).length,
      slowTracker: (slow.child.output().match(/"tracker\.fault"/g) ?? []).length,
      trackerOther: (stokerLog.match(/"tracker\.fault"/g) ?? []).length,
      engine: (stokerLog.match(/"engine\.fault"/g) ?? []).length,
    };
    faults.trackerOther -= faults.trackerTimeouts;
    // Free the cores before the engine bench.
    await stopAll();

    let engine: EngineRows | null = null;
    const phase3 = performance.now();
    if (withEngine) {
      log("engine bench (bench/engine, inside workerd)");
      engine = await engineBench(SIZES.map((s) => `${s / 1000}K`));
    }
    const phase3Ms = performance.now() - phase3;

    const facts: Facts = {
      date: new Date().toISOString(),
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "unknown",
      memGiB: Math.round(totalmem() / 2 ** 30),
      kernel: release(),
      node: process.version,
      runtime,
      wrangler: version("wrangler"),
      miniflare: version("miniflare"),
      workerd: version("@cloudflare/workerd-linux-64"),
      quick,
      idle,
      durations: {
        totalMs: performance.now() - began,
        latencyMs: phase1Ms,
        profileMs,
        trackerMs: phase2Ms,
        engineMs: phase3Ms,
      },
      profiled: withProfile ? PROFILED : 0,
      faults,
      memory,
      slowTracker: SLOW_TRACKER,
      apart,
      load: loadavg(),
      args: process.argv.slice(2),
    };
    const md = render(facts, groups, profiles, cells, engine);
    mkdirSync(join(ROOT, "bench/report"), { recursive: true });
    const out = resolve(outFile ?? join(ROOT, "bench/report/overhead.md"));
    writeFileSync(out, md);
    process.stdout.write(`${md}\n`);
    log(`wrote ${out} in ${((performance.now() - began) / 1000).toFixed(0)} s`);
  } finally {
    await stopAll();
    await sim.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch(async (err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await stopAll();
  process.exit(1);
});

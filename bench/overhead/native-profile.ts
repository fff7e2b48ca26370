// Where Stoker's process spends its CPU, the runtime's native code included (issue 19): `node
// bench/overhead/native-profile.ts [--n=K] [--warmup=K] [--sizes=2000,100000] [--mode=json|stream|both] [--apart]
// [--reply-chars=N] [--hz=1000] [--event=cpu|faults] [--out=FILE]`. The V8 sampling profile of bench:overhead sees JavaScript only: what workerd does in C++ for a
// call (HTTP, streams, RPC, timers, wrappers) lands on the nearest JS frame or on "runtime". This serves Stoker
// and the null proxy side by side as ab.ts does (side-by-side.ts; both Stoker builds are this checkout, only the
// first is profiled) and samples each one's workerd with Linux `perf` (cpu-clock, every thread of the process,
// with call stacks) while a group's measured requests run. Each sample goes to the first kind of work on its
// stack (KINDS below, by workerd's own frames), and to each of Stoker's functions on it. The JIT frames are named
// from V8's jitdump (`--perf-prof`, merged by `perf inject --jit`, which follows code V8 moved or freed; a perf
// map would name a reused address after an older function), which also says which tier ran each frame. Needs
// `perf` with perf_event_paranoid at most 2; without, it says so and measures nothing. `--event=faults` records
// every minor page fault instead of the CPU clock (memory the process touches for the first time: where a
// request's allocations land in fresh pages, each a fault of the guest kernel, costly in a virtual machine),
// counted per request by the same kinds and functions.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { groupProcs } from "../../scripts/lib/procs.ts";
import { arg, replyCharsArg } from "./args.ts";
import type { Group } from "./latency.ts";
import { groupArgs, sideBySide } from "./side-by-side.ts";
import { ROOT } from "./wrangler.ts";

/** A collection charges whichever function happened to allocate: left out of the innermost functions. */
const GC_KIND = "GC on the isolate's thread";
/** The kinds of work a sample can belong to: the first whose frame is on its stack. */
const KINDS: readonly (readonly [string, RegExp])[] = [
  [GC_KIND, /Heap::CollectGarbage|ScavengerCollector|MarkCompactCollector/],
  ["V8 background threads (concurrent GC, compiles)", /JobTaskWrapper|WorkerThreadsTaskRunner/],
  [
    "the upstream call (fetch: the request built and sent)",
    /api::fetchImpl|ServiceWorkerGlobalScope::fetch\b/,
  ],
  ["an RPC's answer (the tracker's)", /resumeAfterIo<capnp::Response<workerd::rpc::JsRpcTarget::CallResults/],
  ["an RPC call into this process (the dev registry's proxy)", /JsRpcTargetBase/],
  ["timers (what runs after the response: the record)", /setTimeoutImpl/],
  ["the upstream's answer (relay)", /resumeAfterIo<kj::HttpClient::Response/],
  ["the rest of what runs once the body is read (prepare)", /resumeAfterIo<kj::Array<unsigned char>/],
  [
    "the request event (routing, auth, body read)",
    /WorkerEntrypoint::requestImpl|ServiceWorkerGlobalScope::request/,
  ],
  ["other JavaScript (promise jobs)", /runMicrotasks/],
  ["HTTP and the event loop", /kj::HttpServer|HttpClient|AsyncIoStream|epoll_wait|kj::_::/],
];
const OTHER = "other";

const { n, groups } = groupArgs();
const apart = process.argv.includes("--apart");
const hz = Number(arg("hz") ?? 1000);
const faults = arg("event") === "faults";
if (!faults && arg("event") !== undefined && arg("event") !== "cpu") throw new Error("--event=cpu|faults");
const out = arg("out");
const replyChars = replyCharsArg();

function perfUsable(): string | null {
  try {
    execFileSync("perf", ["--version"], { stdio: "ignore" });
  } catch {
    return "no `perf` on this machine (Debian: linux-perf)";
  }
  const paranoid = Number(readFileSync("/proc/sys/kernel/perf_event_paranoid", "utf8").trim());
  return paranoid > 2 ? `perf_event_paranoid is ${paranoid} (at most 2 needed)` : null;
}

/** The workerd processes of a process group. */
function workerdPids(pgid: number): number[] {
  return groupProcs(pgid)
    .filter((p) => p.comm === "workerd")
    .map((p) => p.pid);
}

interface Profile {
  samples: number;
  kinds: Map<string, number>;
  /** Samples with each function of Stoker's bundle on the stack (once per sample). */
  functions: Map<string, number>;
  /**
   * Samples whose innermost frame of Stoker's bundle is each function: its own code and what it called of the
   * runtime (builtins, natives), not its callees in Stoker's code; collections on the thread left out.
   */
  innermost: Map<string, number>;
  /** Frames of Stoker's bundle by V8 tier (jitdump's marker: `~` bytecode, `^` Sparkplug, `+` Maglev, `*` TurboFan). */
  tiers: Map<string, number>;
}

const TIERS: Record<string, string> = {
  "~": "interpreted",
  "^": "Sparkplug",
  "+": "Maglev",
  "*": "TurboFan",
};
// `JS:^prepare index.js:11996:23`: a function of Stoker's bundle (index.js), its tier marker and name.
const BUNDLE_FRAME = /^JS:([*+^~]?)'?(\S*) index\.js:(\d+)/;

/** Stacks of `perf script -F ip,sym`: one frame a line (leaf first), a blank line between samples. */
function readProfile(text: string): Profile {
  const p: Profile = {
    samples: 0,
    kinds: new Map(),
    functions: new Map(),
    innermost: new Map(),
    tiers: new Map(),
  };
  for (const block of text.split(/\n\s*\n/)) {
    const frames = block
      .split("\n")
      .map((l) => l.trim().replace(/^[0-9a-f]+\s+/, ""))
      .filter((l) => l !== "");
    if (frames.length === 0) continue;
    p.samples++;
    const stack = frames.join("\n");
    const kind = KINDS.find(([, re]) => re.test(stack))?.[0] ?? OTHER;
    p.kinds.set(kind, (p.kinds.get(kind) ?? 0) + 1);
    const seen = new Set<string>();
    for (const f of frames) {
      const m = BUNDLE_FRAME.exec(f);
      if (!m) continue;
      const tier = TIERS[m[1] ?? ""] ?? "other";
      p.tiers.set(tier, (p.tiers.get(tier) ?? 0) + 1);
      const fn = m[2] || `(anonymous at index.js:${m[3]})`;
      if (seen.size === 0 && kind !== GC_KIND) p.innermost.set(fn, (p.innermost.get(fn) ?? 0) + 1);
      seen.add(fn);
    }
    for (const f of seen) p.functions.set(f, (p.functions.get(f) ?? 0) + 1);
  }
  return p;
}

/** Samples `pids` with perf until the returned function is called; then their profile. */
function record(pids: number[], file: string): () => Promise<Profile> {
  const perf = spawn(
    "perf",
    // `-k 1`: the monotonic clock, which jitdump's records carry, so that `perf inject --jit` can match them.
    [
      "record",
      "-q",
      "-k",
      "1",
      // Every fault is one sample (`-c 1`); the clock is sampled at `hz`.
      ...(faults ? ["-e", "page-faults", "-c", "1"] : ["-e", "cpu-clock", "-F", String(hz)]),
      "-g",
      "-o",
      file,
      "-p",
      pids.join(","),
    ],
    { stdio: "ignore" },
  );
  return async () => {
    const exited = new Promise<void>((resolve) => perf.once("exit", () => resolve()));
    perf.kill("SIGINT");
    await exited;
    execFileSync("perf", ["inject", "--jit", "-i", file, "-o", `${file}.jit`], { stdio: "ignore" });
    const text = execFileSync("perf", ["script", "-F", "ip,sym", "-i", `${file}.jit`], {
      maxBuffer: 1 << 30,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    return readProfile(text);
  };
}

const name = (g: Group) => `${g.upstream} ${g.tokens / 1000}K ${g.stream ? "stream" : "JSON"}`;
/** Per request: CPU ms (one sample is 1/hz s), or faults (one sample is one fault). */
const ms = (samples: number, requests: number) => (faults ? samples : (samples / hz) * 1000) / requests;
const unit = faults ? "faults" : "ms";

async function main(): Promise<void> {
  const unusable = perfUsable();
  if (unusable) {
    console.log(`Not measured: ${unusable}.`);
    return;
  }
  const began = performance.now();
  const tmp = mkdtempSync(join(tmpdir(), "stoker-perf-"));
  // Each workerd writes its jitdump (and `perf inject` its per-function objects) here, read as each child starts.
  mkdirSync(join(tmp, "jit"));
  process.env.BENCH_V8_FLAGS = `--perf-prof --perf-prof-path=${join(tmp, "jit")}`;
  const profiles: { g: Group; stoker: Profile; worker: Profile }[] = [];
  try {
    await sideBySide({
      base: ROOT,
      against: ROOT,
      groups,
      vars: {},
      ...(apart ? { apart: "both" as const } : {}),
      streamDelayMs: 0,
      replyChars,
      onGroup: (g) => process.stderr.write(`[native-profile] ${name(g)} x${n}\n`),
      measuring: async (g, pgids) => {
        const stokerPids = workerdPids(pgids.stoker);
        const workerPids = workerdPids(pgids.worker);
        const label = name(g).replaceAll(" ", "-");
        const stoker = record(stokerPids, join(tmp, `${label}-stoker.data`));
        const worker = record(workerPids, join(tmp, `${label}-worker.data`));
        return async () => {
          profiles.push({ g, stoker: await stoker(), worker: await worker() });
        };
      },
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const took = Math.round((performance.now() - began) / 1000);
  const lines = [
    faults
      ? "# Where Stoker's process touches fresh memory (minor page faults), natives included"
      : "# Where Stoker's process spends its CPU, natives included",
    "",
    `Generated by \`node bench/overhead/native-profile.ts ${process.argv.slice(2).join(" ")}\` (\`npm run bench:native${faults ? ":faults" : ""}\`, bench/overhead/README.md) on ${new Date().toISOString()}; took ${took} s.`,
    "",
    `Stoker's workerd and the null proxy's, ${faults ? "every minor page fault recorded by `perf` (page-faults, each one a sample, every thread)" : `sampled by \`perf\` (cpu-clock, ${hz} Hz, every thread)`} over each group's measured requests (${n} per arm, each process serving two arms: ${2 * n} requests, after ${groups[0]?.warmup ?? 0} warm-up requests per arm), ${apart ? "Stoker's trackers in a process of their own (`--apart`: Stoker's process alone)" : "Stoker's trackers and Cache API in its own process"}${replyChars ? `; every answer ${replyChars} characters long (a stream's content deltas are 24 each)` : ""}. ${faults ? "Page faults" : "CPU ms"} per request by the kind of work on the sample's stack (the first that matches, in this order).`,
    "",
  ];
  for (const { g, stoker, worker } of profiles) {
    const requests = 2 * n;
    lines.push(
      `### ${name(g)}`,
      "",
      "| kind of work | Stoker | null proxy | **Stoker − null** |",
      "|---|---|---|---|",
    );
    for (const kind of [...KINDS.map(([k]) => k), OTHER]) {
      const s = ms(stoker.kinds.get(kind) ?? 0, requests);
      const w = ms(worker.kinds.get(kind) ?? 0, requests);
      if (s < 0.005 && w < 0.005) continue;
      lines.push(`| ${kind} | ${s.toFixed(2)} | ${w.toFixed(2)} | **${(s - w).toFixed(2)}** |`);
    }
    const st = ms(stoker.samples, requests);
    const wt = ms(worker.samples, requests);
    lines.push(`| **all** | **${st.toFixed(2)}** | **${wt.toFixed(2)}** | **${(st - wt).toFixed(2)}** |`, "");
    const ranked = (m: Map<string, number>) =>
      [...m]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 16)
        .map(([f, c]) => `${f} ${ms(c, requests).toFixed(2)}`);
    const top = ranked(stoker.functions);
    const own = [...stoker.innermost.values()].reduce((a, b) => a + b, 0);
    const frames = [...stoker.tiers.values()].reduce((a, b) => a + b, 0);
    const tiers = [...stoker.tiers]
      .sort((a, b) => b[1] - a[1])
      .map(([t, c]) => `${t} ${((100 * c) / Math.max(1, frames)).toFixed(0)} %`);
    lines.push(
      `Stoker's functions with the most samples on their stack, ${unit} per request (what they called included): ${top.join("; ")}.`,
      "",
      `Stoker's functions as the innermost of Stoker's frames, ${unit} per request (their own code and what they called of the runtime, collections left out; ${ms(own, requests).toFixed(2)} ${unit} in all): ${ranked(stoker.innermost).join("; ")}.`,
      "",
      `Tiers of the frames of Stoker's code on the samples: ${tiers.join(", ")}.`,
      "",
    );
  }
  const text = lines.join("\n");
  console.log(text);
  if (out) writeFileSync(out, `${text}\n`);
}

await main();

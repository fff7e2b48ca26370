// Two builds of Stoker side by side in one run, for work on the request path (issue 19): `node
// bench/overhead/ab.ts --against=DIR [--n=K] [--sizes=2000,20000,100000] [--mode=json|stream|both]
// [--first=carried|opening] [--stream-delay-ms=MS] [--reply-chars=N] [--var=NAME=VALUE ...] [--against-var=NAME=VALUE ...] [--against-apart] [--apart] [--out=FILE]`.
// DIR is a checkout of another revision (e.g. `git worktree add DIR <rev>`, or `git archive <rev> | tar -x
// -C DIR`, with node_modules linked). Both builds are bundled and served under Miniflare as the overhead
// benchmark serves Stoker, and get the latency phase's requests interleaved one by one with the direct and
// null-proxy arms (latency.ts: the second Stoker's arms, which the benchmark gives a slow tracker, serve
// DIR's build here, with no delay). Two runs of the same code differ by about a millisecond at p50 (the
// machine, the process each build runs in), so a change smaller than that needs this, not two separate
// runs. `--stream-delay-ms` spaces the simulator's streamed events (default 0: all at once, so every
// per-event hop of a relay adds up in the wall time; a model's tokens come tens of ms apart). `--reply-chars`
// sets every answer's length (the simulator's reply is about 60 characters; a stream sends a content delta
// for every 24; at most 1,024, the bodies' max_tokens), so that a relay's cost per event shows over a
// longer answer. `--first=opening`
// makes the first requests new conversations' openings (the family's tools and system, most of the prompt,
// and one message) instead of conversations carrying earlier turns. `--var` sets a
// Worker var for both builds (e.g. `--var=ANTHROPIC_CACHE_DIAGNOSTICS=0`: Anthropic answers then need no edit);
// `--against-var` for DIR's build alone, so that `--against=.` weighs one setting of this checkout (e.g.
// `--against-var=SHARED_ANSWERS_WAIT_MS=0`: no answers shared through the Cache API). `--against-apart` serves
// DIR's build as a deploy runs it: its trackers in a process of their own, its Cache API a no-op
// (miniflare.ts `serveTrackerApart`); with `--against=.` its "against − null" is this checkout's own path.
// `--apart` serves both builds so, for a change to the request path measured as a deploy would run it.
// Prints, per group: Stoker − null proxy p50 / p99 for this checkout and for DIR (later turns and first
// requests), the null proxy's noise floor, the reading proxy over the null proxy and this checkout over the
// reading proxy (latency.ts `reader`; later turns and first requests), and DIR − this checkout per request pair; then each build's
// process-group CPU per request and its garbage collections (gc.ts).
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { arg, replyCharsArg, varArgs } from "./args.ts";
import type { GcStats } from "./gc.ts";
import type { Arm, GroupResult } from "./latency.ts";
import { byPrevious } from "./report.ts";
import { groupArgs, sideBySide } from "./side-by-side.ts";
import { p50Interval, pairDiff, percentile } from "./stats.ts";
import { ROOT } from "./wrangler.ts";

const againstArg = arg("against");
if (!againstArg) throw new Error("--against=DIR: a checkout of the revision to compare with");
const against = resolve(againstArg);
const { n, groups } = groupArgs();
const streamDelayMs = Number(arg("stream-delay-ms") ?? 0);
const replyChars = replyCharsArg();
const out = arg("out");
const extraVars = varArgs();
const againstVars = varArgs("against-var");
const apart = process.argv.includes("--apart")
  ? ("both" as const)
  : process.argv.includes("--against-apart")
    ? ("against" as const)
    : undefined;

const f = (v: number) => v.toFixed(2);
/** p50 / p99 of `a` − `b` per request pair (the same request index: both sent in the same round). */
function paired(a: readonly number[], b: readonly number[]): string {
  const d = pairDiff(a, b);
  return `${f(percentile(d, 50))} / ${f(percentile(d, 99))}`;
}

/** `paired`, its p50 with a 95 % bootstrap interval: the two builds' columns, where a change is read. */
function compared(a: readonly number[], b: readonly number[]): string {
  const d = pairDiff(a, b);
  const [lo, hi] = p50Interval(d);
  return `${f(percentile(d, 50))} [${f(lo)}, ${f(hi)}] / ${f(percentile(d, 99))}`;
}

function cpuRow(r: GroupResult): string {
  const g = r.group;
  const c = r.cpu;
  return `| ${g.upstream} ${g.tokens / 1000}K ${g.stream ? "stream" : "JSON"} | ${f(c.stoker.totalMs)} | ${f(c.slow.totalMs)} | **${f(c.slow.totalMs - c.stoker.totalMs)}** | ${f(c.worker.totalMs)} | ${f(c.reader.totalMs)} | ${c.stoker.minorFaults.toFixed(0)} / ${c.slow.minorFaults.toFixed(0)} / ${c.worker.minorFaults.toFixed(0)} |`;
}

/** V8's collections per request in each build's process (gc.ts): minor / major per 100, pause ms, longest. */
function gcRow(r: GroupResult): string {
  const g = r.group;
  const n = 2 * g.n;
  const cell = (s: GcStats) =>
    `${((s.minor / n) * 100).toFixed(1)} / ${((s.major / n) * 100).toFixed(1)} | ${f(s.pauseMs / n)} | ${f(s.maxMs)}`;
  if (!r.gc) return `| ${g.upstream} ${g.tokens / 1000}K ${g.stream ? "stream" : "JSON"} | not traced |`;
  return `| ${g.upstream} ${g.tokens / 1000}K ${g.stream ? "stream" : "JSON"} | ${cell(r.gc.stoker)} | ${cell(r.gc.slow)} | ${f(r.gc.worker.pauseMs / n)} |`;
}

/** Later turns sent the moment a first request of the same build answered, and the others (report.ts `byPrevious`). */
function followRow(r: GroupResult): string {
  const g = r.group;
  const cell = (arm: Arm, first: Arm) => {
    const { after, other } = byPrevious(r, arm, [first]);
    return `${f(after.p50)} (${after.n}) | ${f(other.p50)} (${other.n})`;
  };
  return `| ${g.upstream} ${g.tokens / 1000}K ${g.stream ? "stream" : "JSON"} | ${cell("stoker", "stokerFirst")} | ${cell("slow", "slowFirst")} |`;
}

function rows(r: GroupResult): string[] {
  const g = r.group;
  const s = r.samples;
  const name = `${g.upstream} ${g.tokens / 1000}K ${g.stream ? "stream" : "JSON"}`;
  const cells = (m: "wall" | "ttfb") => {
    const v = (arm: Arm) => s[arm][m];
    return `| ${name} | ${m === "wall" ? "wall" : "first byte"} | ${paired(v("stoker"), v("worker"))} | ${paired(v("slow"), v("worker"))} | **${compared(v("slow"), v("stoker"))}** | ${paired(v("stokerFirst"), v("worker"))} | ${paired(v("slowFirst"), v("worker"))} | **${compared(v("slowFirst"), v("stokerFirst"))}** | ${paired(v("worker2"), v("worker"))} | ${paired(v("reader"), v("worker"))} | ${paired(v("stoker"), v("reader"))} | ${paired(v("stokerFirst"), v("reader"))} |`;
  };
  return [cells("wall"), cells("ttfb")];
}

async function main(): Promise<void> {
  const began = performance.now();
  const results = await sideBySide({
    base: ROOT,
    against,
    groups,
    vars: extraVars,
    againstVars,
    apart,
    streamDelayMs,
    replyChars,
    onGroup: (g) =>
      process.stderr.write(`[ab] ${g.upstream} ${g.tokens / 1000}K ${g.stream ? "stream" : "json"} x${n}\n`),
  });
  const lines = [
    `Stoker (${ROOT}) against ${against}: ${n} requests per arm and group, interleaved; simulator events ${streamDelayMs} ms apart${replyChars ? `; answers of ${replyChars} characters (a streamed one sends a content delta for every 24)` : ""}${groups[0]?.first === "opening" ? "; first requests are new conversations' openings (the family's tools and system, 95 % of the prompt, and one message of their own)" : ""}${Object.keys(extraVars).length > 0 ? `; vars ${JSON.stringify(extraVars)}` : ""}${Object.keys(againstVars).length > 0 ? `; against's own vars ${JSON.stringify(againstVars)}` : ""}${apart === "both" ? "; both builds served with their trackers in a process of their own and no Cache API (their CPU below is their own process's, without the trackers')" : apart === "against" ? "; against served with its trackers in a process of their own and no Cache API (its CPU below is its own process's, without the trackers')" : ""}. ms, p50 / p99 of per-pair differences; in the *against − this* columns the p50 has a 95 % bootstrap interval in brackets (2,000 resamples of the pairs, stats.ts \`p50Interval\`): where it holds 0, this run does not tell the builds apart at p50.`,
    "",
    "| group | metric | this − null, later | against − null, later | **against − this, later** | this − null, first | against − null, first | **against − this, first** | noise: null 2nd copy − null | reading proxy − null | this − reading proxy, later | this − reading proxy, first |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of results) {
    if (r.failures.length > 0) lines.push(`<!-- failures: ${r.failures.join("; ")} -->`);
    lines.push(...rows(r));
  }
  lines.push(
    "",
    "CPU per request (ms): each build's Miniflare process group (workerd, with its Durable Objects, and its Node parent) over the group's requests, later turns and first requests together, idle not subtracted (both builds idle alike); /proc counts 10 ms ticks per process, so a figure is exact to about 20 ms over the group's requests. Page faults: minor faults of the same processes per request (memory touched for the first time, mostly fresh allocations; a 4 KiB page each, costly in this virtual machine).",
    "",
    "| group | this | against | **against − this** | null proxy (both copies) | reading proxy (its one arm) | page faults per request: this / against / null |",
    "|---|---|---|---|---|---|---|",
    ...results.map(cpuRow),
    "",
    "Garbage collection (V8's `--trace-gc` lines of each build's workerd, bench/overhead/gc.ts): collections per 100 requests (minor / major), the ms they held the thread per request, and the longest pause in the group (ms).",
    "",
    "| group | this: minor / major | this: pause per request | this: longest | against: minor / major | against: pause per request | against: longest | null proxy: pause per request |",
    "|---|---|---|---|---|---|---|---|",
    ...results.map(gcRow),
    "",
    "Later turns sent the moment one of the same build's first requests answered (that request's work after its response then runs while they wait), and the other later turns: − null proxy, wall p50 (n).",
    "",
    "| group | this: right after a first request | this: others | against: right after a first request | against: others |",
    "|---|---|---|---|---|",
    ...results.map(followRow),
  );
  lines.push("", `Took ${Math.round((performance.now() - began) / 1000)} s.`);
  const text = lines.join("\n");
  console.log(text);
  if (out) writeFileSync(out, `${text}\n`);
}

await main();

// The Tracker's record and lookup RPCs alone, for work on their cost (issue 19): `node
// bench/overhead/record-probe.ts [--conversations=C] [--turns=T] [--sizes=2000,20000] [--profile]`.
// Bundles the overhead benchmark's reference worker (Stoker's Tracker behind /t routes), serves it under
// Miniflare, and runs tracker-probe.ts's cells (realistic conversations prepared with Stoker's own code,
// answered by the simulator) at each size: Anthropic with the keepalive capture (managed), Anthropic and
// OpenAI without. Prints record and lookup added time (route − /t/noop with the same body, ms) p50 / p99,
// split into a conversation's first request and its later turns. `--profile` also samples the isolate with
// V8's profiler while the cells run and prints the Stoker functions with the most samples (the nearest Stoker
// frame on the stack, natives such as SQLite calls counted for their caller), per record.
// `--against=DIR` (a checkout of another revision, e.g. `git archive <rev> | tar -x -C DIR` with
// node_modules linked) bundles its reference worker too and runs every cell on both, in alternating order,
// so that a change is compared with its baseline under the same load.
// `--replay=N` then sends each cell's records again, N times over, each time to a new tenant (a fresh object
// that goes through the same states), with nothing else between them, and the same bodies to /t/noop:
// the CPU the workerd process group used for records less that for the noops, per record, is the record's
// own CPU (the DO's work, the RPC and the answer), to a clock tick over all N passes. `--batch=B` sends them
// B to a `recordMany` call, as the edge coalesces them (/t/records); `--batch=1,8` replays once per size.
// `--out=FILE` also writes what it prints (`npm run bench:records` → bench/report/tracker-records.md).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulator } from "../../sim/server.ts";
import { groupCpu } from "./cpu.ts";
import { serveMiniflare } from "./miniflare.ts";
import { freePort, stopAll } from "./procs.ts";
import { type Breakdown, profileStoker } from "./profile.ts";
import { percentile } from "./stats.ts";
import { type Cell, type CellResult, runCell } from "./tracker-probe.ts";
import { bundle, ROOT } from "./wrangler.ts";

const arg = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const conversations = Number(arg("conversations") ?? 6);
const turns = Number(arg("turns") ?? 6);
const sizes = (arg("sizes") ?? "2000,20000,100000").split(",").map(Number);
const withProfile = process.argv.includes("--profile");
const against = arg("against");
const replays = Number(arg("replay") ?? 0);
const batches = (arg("batch") ?? "1").split(",").map(Number);
const out = arg("out");
const printed: string[] = [];
const say = (line: string) => {
  printed.push(line);
  console.log(line);
};

const cells: Cell[] = sizes.flatMap((tokens) => [
  { upstream: "anthropic" as const, tokens, kind: "managed" as const, conversations, turns },
  { upstream: "anthropic" as const, tokens, kind: "no-capture" as const, conversations, turns },
  { upstream: "openai" as const, tokens, kind: "no-capture" as const, conversations, turns },
]);

const f = (v: number) => v.toFixed(2);

async function post(url: string, body: Buffer): Promise<void> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
  const text = await res.text();
  if (!res.ok || text.includes('"ok":false'))
    throw new Error(`${url}: HTTP ${res.status} ${text.slice(0, 200)}`);
}
const pp = (v: number[]) => (v.length === 0 ? "-" : `${f(percentile(v, 50))} / ${f(percentile(v, 99))}`);

/** A cell's timings, and the CPU its worker used (records, lookups and the /t/noop twins of both). */
type Measured = CellResult & { cpuMs: number };

function row(r: Measured): string {
  const first = r.recordDiff.filter((_, i) => i % r.cell.turns === 0);
  const later = r.recordDiff.filter((_, i) => i % r.cell.turns !== 0);
  return `| ${r.cell.upstream} | ${r.cell.kind} | ${r.cell.tokens / 1000}K | ${r.records} | ${pp(first)} | ${pp(later)} | ${pp(r.recordDiff)} | ${pp(r.lookupDiff)} | ${f(r.cpuMs / r.records)} | ${r.failures.length} |`;
}

const began = performance.now();
const tmp = mkdtempSync(join(tmpdir(), "stoker-record-probe-"));
const sim = await startSimulator({ port: 0, host: "127.0.0.1" });
try {
  const serveRevision = async (root: string, name: string, inspectorPort: number) => {
    const config = join(root, "bench/overhead/worker/wrangler.toml");
    const entry = await bundle(config, join(tmp, name));
    rmSync(join(root, "bench/overhead/worker/.wrangler"), { recursive: true, force: true });
    const served = await serveMiniflare(
      `record probe ${name}`,
      entry,
      config,
      { SIM_URL: sim.url, STOKER_SIMULATOR: "1" },
      join(tmp, `state-${name}`),
      inspectorPort,
    );
    return { url: served.url, entry, pgid: served.child.pgid };
  };
  const inspectorPort = withProfile ? await freePort() : 0;
  const worker = await serveRevision(ROOT, "this", inspectorPort);
  const base = against ? await serveRevision(against, "against", 0) : null;
  const runId = Date.now().toString(36);
  // Warm-up: one small cell of its own tenant, so the first measured records pay no compilation.
  for (const w of base ? [worker, base] : [worker])
    await runCell(w.url, sim.url, { ...(cells[0] as Cell), conversations: 2, turns: 2 }, 1, `${runId}w`);
  const results: Measured[] = [];
  const baseResults: Measured[] = [];
  /** A cell, with the CPU the serving workerd's process group used meanwhile. */
  /** Each cell's record bodies (as the first worker to run it sent them), for `--replay`. */
  const bodies = new Map<number, Buffer[]>();
  const measure = async (w: { url: string; pgid: number }, cell: Cell, seed: number): Promise<Measured> => {
    const before = groupCpu(w.pgid).totalMs;
    const kept: Buffer[] = [];
    const r = await runCell(w.url, sim.url, cell, seed, runId, (b) => kept.push(b));
    if (!bodies.has(seed)) bodies.set(seed, kept);
    return { ...r, cpuMs: groupCpu(w.pgid).totalMs - before };
  };
  const run = async () => {
    for (const [i, cell] of cells.entries()) {
      const mine = () => measure(worker, cell, 5000 + i * 1000);
      if (!base) {
        results.push(await mine());
        continue;
      }
      const theirs = () => measure(base, cell, 5000 + i * 1000);
      if (i % 2 === 0) {
        results.push(await mine());
        baseResults.push(await theirs());
      } else {
        baseResults.push(await theirs());
        results.push(await mine());
      }
    }
  };
  const records = cells.reduce((n, c) => n + c.conversations * c.turns, 0) * (base ? 2 : 1);
  let profile: Breakdown | null = null;
  if (withProfile)
    profile = await profileStoker(
      inspectorPort,
      `${worker.entry}.map`,
      records,
      run,
      200,
      30,
      arg("raw-profile"),
    );
  else await run();
  say(
    `record-probe: ${conversations} conversations x ${turns} turns per cell${withProfile ? " (profiler on: times inflated)" : ""}\n`,
  );
  const table = (title: string, rs: Measured[]) => {
    say(`${title}\n`);
    say(
      "| upstream | tenant | size | records | record first p50 / p99 | record later p50 / p99 | record all p50 / p99 | lookup p50 / p99 | worker CPU ms per record | failures |",
    );
    say("|---|---|---|---|---|---|---|---|---|---|");
    for (const r of rs) say(row(r));
    const fails = rs.flatMap((r) => r.failures);
    if (fails.length > 0) say(`\nfailures: ${fails.slice(0, 3).join("\n")}`);
    say("");
  };
  table(against ? "This revision" : "Record and lookup, added ms", results);
  if (base) table(`Against ${against}`, baseResults);
  for (const batch of replays > 0 ? batches : []) {
    say(
      `Replayed: each cell's records ${replays} times, each time to a new tenant${batch > 1 ? `, ${batch} per recordMany call` : ", one per record call"}; CPU ms per record of the workerd process group, record − noop with the same body\n`,
    );
    const ws = base ? [worker, base] : [worker];
    const names = ws.map((_, i) => (i === 0 ? "this" : "against"));
    say(
      `| upstream | tenant | size | records | ${names.map((n) => `${n}: CPU ms a record`).join(" | ")} | ${names.map((n) => `${n}: records a second at that CPU`).join(" | ")} |`,
    );
    say(`|---|---|---|---|${ws.map(() => "---|---").join("|")}|`);
    for (const [i, cell] of cells.entries()) {
      const sent = bodies.get(5000 + i * 1000) ?? [];
      const tenantOf = (b: Buffer) => (JSON.parse(b.toString()) as { tenantId: string }).tenantId;
      const cpu: number[] = ws.map(() => 0);
      // Alternating which worker goes first, records and noops interleaved per pass.
      for (let rep = 0; rep < replays; rep++) {
        for (const [k, w] of (rep % 2 === 0 ? ws : [...ws].reverse()).entries()) {
          const idx = rep % 2 === 0 ? k : ws.length - 1 - k;
          const tenant = `rp${batch}-${rep}-${idx}-${runId}-${i}`;
          const renamed = sent.map((b) => Buffer.from(b.toString().replaceAll(tenantOf(b), tenant)));
          // With --batch=N, N records per recordMany call (as the edge coalesces them), in order.
          const sends =
            batch > 1
              ? Array.from({ length: Math.ceil(renamed.length / batch) }, (_, j) =>
                  Buffer.from(`[${renamed.slice(j * batch, (j + 1) * batch).join(",")}]`),
                )
              : renamed;
          const route = batch > 1 ? "/t/records" : "/t/record";
          const t0 = groupCpu(w.pgid).totalMs;
          for (const b of sends) await post(`${w.url}${route}`, b);
          const t1 = groupCpu(w.pgid).totalMs;
          for (const b of sends) await post(`${w.url}/t/noop`, b);
          const t2 = groupCpu(w.pgid).totalMs;
          cpu[idx] = (cpu[idx] ?? 0) + (t1 - t0) - (t2 - t1);
        }
      }
      const per = cpu.map((c) => c / (replays * sent.length));
      say(
        `| ${cell.upstream} | ${cell.kind} | ${cell.tokens / 1000}K | ${sent.length} x ${replays} | ${per.map(f).join(" | ")} | ${per.map((ms) => (ms > 0 ? Math.round(1000 / ms).toLocaleString("en-US") : "-")).join(" | ")} |`,
      );
    }
    say("");
  }
  if (profile) {
    say(`profile: ${f(profile.busyMsPerRequest)} ms busy per record (lookups included)`);
    for (const t of profile.top) say(`  ${t.ms.toFixed(3)} ms  ${t.fn}`);
  }
  if (out)
    writeFileSync(
      out,
      `${reportHead()}${printed.join("\n")}\nTook ${Math.round((performance.now() - began) / 1000)} s.\n`,
    );
} finally {
  await stopAll();
  await sim.close();
  rmSync(tmp, { recursive: true, force: true });
}

/** What a written report says it is (`--out`). */
function reportHead(): string {
  return [
    "# A tenant's tracker: what a record and a lookup cost",
    "",
    `Generated by \`node bench/overhead/record-probe.ts ${process.argv.slice(2).join(" ")}\` (\`npm run bench:records\`) on ${new Date().toISOString()}.`,
    "",
    "The overhead benchmark's reference worker serves Stoker's Tracker behind routes of its own (bench/overhead/worker), under Miniflare; realistic conversations, prepared with Stoker's own code and answered by the simulator, are recorded to it one record at a time and looked up, per cell: Anthropic with the keepalive capture (a managed tenant), Anthropic and OpenAI without. *Added ms* is a route's time less the time of `/t/noop` with the same body. *Replayed* sends each cell's records again, each pass to a new tenant (a fresh object that goes through the same states), then the same bodies to `/t/noop`: the CPU the workerd process used for the records less that for the noops is a record's own (the Durable Object's work, the RPC both ways, the answer). *Records a second at that CPU* is 1000 / that figure: the most one tenant's tracker could take if that CPU were all it spent, an upper bound on a tenant's request rate before its records queue (a deploy's RPC between machines costs the tracker less CPU than this in-process one; the caller's side of it is counted here too). The edge sends the records of one isolate together (`recordMany`, src/tracker/client.ts) when several wait: the batched rows show what that saves.",
    "",
    "",
  ].join("\n");
}

// Memory of Stoker's workerd over many requests (issue 19: "memory per isolate after 10,000 requests"):
// `node bench/overhead/memory.ts [--requests=10000] [--var=NAME=VALUE ...] [--apart] [--out=FILE]` (`npm run
// bench:memory`) writes bench/report/memory.md (or FILE); `--var` sets a Worker var for Stoker; `--apart`
// serves Stoker with its trackers in a process of their own and no local Cache API (miniflare.ts
// `serveTrackerApart`), so that its workerd holds neither (bench/report/memory-apart.md); the dev registry's
// proxy, which a deploy has not, is in it instead.
// Stoker and the null-proxy reference worker are served as in the overhead benchmark (Miniflare, the
// bundle `wrangler deploy --dry-run` makes, the simulator in this process). Stoker gets a mix meant to fill
// every per-isolate cache past its bound: 2 managed tenants, 25 families each (their own tools and system
// prompt), Anthropic JSON and OpenAI streams at 2K tokens, 60 % of requests the first of a new conversation
// and the rest a later turn of one of the family's conversations. The reference worker gets the same bodies.
// Every `requests / 20` requests the workerd process's resident memory (VmRSS) is read for both, and
// Stoker's isolate's JS heap through the inspector (V8's `Runtime.getHeapUsage`; no collection is forced,
// workerd's inspector has none, so the used heap moves with the collector's timing: its trend is the figure),
// and the tenants' tracker databases through the admin API (`Tracker.storage()`: SQLite's bytes and rows).
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { startSimulator } from "../../sim/server.ts";
import { LIMITS } from "../../src/tracker/schema.ts";
import { mulberry32 } from "../economics/synthetic.ts";
import { arg, varArgs } from "./args.ts";
import { bodyFactory, type Upstream } from "./bodies.ts";
import { groupRssMiB } from "./cpu.ts";
import { requestHeaders } from "./http.ts";
import { serveMiniflare, serveReference, serveTrackerApart } from "./miniflare.ts";
import { freePort, stopAll } from "./procs.ts";
import { Session } from "./profile.ts";
import { bundle, ROOT } from "./wrangler.ts";

const REQUESTS = Number(arg("requests") ?? 10_000);
const VARS = varArgs();
const APART = process.argv.includes("--apart");
const OUT = arg("out") ?? join(ROOT, APART ? "bench/report/memory-apart.md" : "bench/report/memory.md");
/** The command as run, for the report. */
const COMMAND = ["node bench/overhead/memory.ts", ...process.argv.slice(2)].join(" ");
const TENANTS = 2;
const FAMILIES = 25;
const NEW_CONVERSATION = 0.6;
const CHECKPOINTS = 20;
const TOKENS = 2_000;

const PATHS: Record<Upstream, string> = {
  anthropic: "/anthropic/v1/messages",
  openai: "/openai/v1/chat/completions",
};

interface Checkpoint {
  requests: number;
  stokerRss: number;
  referenceRss: number;
  heapUsed: number;
  heapTotal: number;
  /** The tenants' tracker databases: SQLite's size (MiB) and rows, summed. */
  trackerMiB: number;
  trackerRows: number;
  failures: number;
  elapsedS: number;
}

const mib = (bytes: number) => bytes / 2 ** 20;
const f1 = (x: number) => x.toFixed(1);

async function main(): Promise<void> {
  const began = performance.now();
  const tmp = mkdtempSync(join(tmpdir(), "stoker-memory-"));
  const sim = await startSimulator({ port: 0, host: "127.0.0.1" });
  try {
    const [stokerEntry, workerEntry] = await Promise.all([
      bundle(join(ROOT, "wrangler.toml"), join(tmp, "stoker")),
      bundle(join(ROOT, "bench/overhead/worker/wrangler.toml"), join(tmp, "worker")),
    ]);
    rmSync(join(ROOT, "bench/overhead/worker/.wrangler"), { recursive: true, force: true });
    const keys = Array.from({ length: TENANTS }, () => `sk-stoker-mem-${randomBytes(16).toString("hex")}`);
    const tenants = JSON.stringify(
      keys.map((k, i) => ({ id: `mem-${i}`, key_sha256: createHash("sha256").update(k).digest("hex") })),
    );
    const adminToken = randomBytes(24).toString("hex");
    const inspectorPort = await freePort();
    const [stoker, worker] = await Promise.all([
      (APART ? serveTrackerApart : serveMiniflare)(
        "stoker",
        stokerEntry,
        join(ROOT, "wrangler.toml"),
        {
          ANTHROPIC_UPSTREAM_URL: `${sim.url}/anthropic`,
          OPENAI_UPSTREAM_URL: `${sim.url}/openai`,
          STOKER_SIMULATOR: "1",
          TENANTS: tenants,
          LOG_LEVEL: "warn",
          ADMIN_TOKEN: adminToken,
          ...VARS,
        },
        join(tmp, "state-stoker"),
        inspectorPort,
      ),
      serveReference(workerEntry, sim.url, join(tmp, "state-worker")),
    ]);
    const session = await Session.open(inspectorPort);
    const factories = new Map<string, (i: number) => Buffer>();
    const factory = (upstream: Upstream, family: number, first: boolean) => {
      const key = `${upstream}/${family}/${first}`;
      let make = factories.get(key);
      if (!make) {
        make = bodyFactory(upstream, TOKENS, upstream === "openai", 5000 + family, first);
        factories.set(key, make);
      }
      return make;
    };
    /** One request to `base`, in the simulator namespace `ns` (each worker its own). */
    const post = async (base: string, ns: string, upstream: Upstream, key: string, body: Buffer) => {
      const headers = requestHeaders(upstream, key, ns);
      const res = await fetch(`${base}${PATHS[upstream]}`, { method: "POST", headers, body });
      await res.text();
      return res.status;
    };
    const next = mulberry32(19);
    const checkpoints: Checkpoint[] = [];
    let failures = 0;
    const every = Math.max(1, Math.floor(REQUESTS / CHECKPOINTS));
    const started = performance.now();
    /** The tenants' trackers' database bytes and rows, as the admin API reports them. */
    const trackers = async () => {
      let bytes = 0;
      let rows = 0;
      for (let t = 0; t < TENANTS; t++) {
        const res = await fetch(`${stoker.url}/v1/admin/tenants/mem-${t}`, {
          headers: { authorization: `Bearer ${adminToken}` },
        });
        if (!res.ok) throw new Error(`admin API: ${res.status} ${await res.text()}`);
        const { storage } = (await res.json()) as {
          storage: { bytes: number; rows: Record<string, number> };
        };
        bytes += storage.bytes;
        for (const n of Object.values(storage.rows)) rows += n;
      }
      return { trackerMiB: mib(bytes), trackerRows: rows };
    };
    const checkpoint = async (n: number) => {
      const heap = (await session.call("Runtime.getHeapUsage")) as { usedSize: number; totalSize: number };
      checkpoints.push({
        requests: n,
        stokerRss: groupRssMiB(stoker.child.pgid)[0] ?? 0,
        referenceRss: groupRssMiB(worker.child.pgid)[0] ?? 0,
        heapUsed: mib(heap.usedSize),
        heapTotal: mib(heap.totalSize),
        ...(await trackers()),
        failures,
        elapsedS: (performance.now() - started) / 1000,
      });
      process.stderr.write(`[memory] ${n} requests: ${JSON.stringify(checkpoints.at(-1))}\n`);
    };
    await checkpoint(0);
    for (let i = 0; i < REQUESTS; i++) {
      const upstream: Upstream = i % 2 === 0 ? "anthropic" : "openai";
      const tenant = Math.floor(next() * TENANTS);
      const family = tenant * FAMILIES + Math.floor(next() * FAMILIES);
      const first = next() < NEW_CONVERSATION;
      const body = factory(upstream, family, first)(i);
      const [s, r] = await Promise.all([
        post(stoker.url, "mem-stoker", upstream, keys[tenant] as string, body),
        post(`${worker.url}/proxy`, "mem-reference", upstream, "sk-direct", body),
      ]);
      if (s !== 200 || r !== 200) failures++;
      if ((i + 1) % every === 0) await checkpoint(i + 1);
    }
    session.close();
    const last = checkpoints.at(-1) as Checkpoint;
    const atTenth = checkpoints.find((c) => c.requests >= REQUESTS / 10) ?? last;
    const half = checkpoints.find((c) => c.requests >= REQUESTS / 2) ?? last;
    /** MiB per 1,000 requests over the second half of the run. */
    const slope = (rss: (c: Checkpoint) => number) =>
      last.requests > half.requests ? ((rss(last) - rss(half)) * 1000) / (last.requests - half.requests) : 0;
    const cpu = cpus();
    const unboundedHint = APART
      ? "look for state that is not bounded"
      : "look for state that is not bounded; under Miniflare the answers Stoker shares through the Cache API live in this process too: `--var=SHARED_ANSWERS_WAIT_MS=0` runs without them";
    // RSS moves by a few MiB between checkpoints whatever the worker does: a difference below this is not growth.
    const SLOPE_NOISE_MIB = 1;
    const over = slope((c) => c.stokerRss) - slope((c) => c.referenceRss);
    const growth =
      over > SLOPE_NOISE_MIB
        ? `: **Stoker grows faster than the null proxy** (${unboundedHint})`
        : over > 0
          ? `: within ${SLOPE_NOISE_MIB} MiB per 1,000 requests of the runtime process's own growth`
          : ": no faster than the runtime process's own growth";
    const md = [
      `# Stoker's memory over many requests${APART ? ", its trackers in a process of their own" : ""}`,
      "",
      `Generated by \`${COMMAND}\` (\`npm run bench:memory${APART ? ":apart" : ""}\`) on ${new Date().toISOString()} in ${f1((performance.now() - began) / 1000)} s. Machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? "unknown CPU"}), ${Math.round(totalmem() / 2 ** 30)} GiB, load average ${loadavg()
        .map((x) => x.toFixed(2))
        .join(" / ")} at the end.`,
      "",
      `Stoker and the null-proxy reference worker served as in the overhead benchmark (workerd through Miniflare's API, the bundle \`wrangler deploy --dry-run\` makes, Durable Objects with SQLite in the same process, the simulator in the benchmark's process). ${REQUESTS.toLocaleString("en-US")} requests to each, two at a time (one to each worker): ${TENANTS} managed tenants, ${FAMILIES} families each (tools and a system prompt of their own), Anthropic JSON and OpenAI streams in turn at ${TOKENS / 1000}K tokens, ${NEW_CONVERSATION * 100} % of requests the first of a new conversation and the rest a later turn of one of the family's conversations: enough new conversations to fill every per-isolate cache past its bound (src/tracker/client-cache.ts: 20,000 position states, 2,000 conversations and families per tenant). *RSS*: VmRSS of the worker's workerd process. *JS heap*: Stoker's isolate (its Worker and its Durable Objects), V8's \`Runtime.getHeapUsage\` through workerd's inspector; no collection is forced (workerd's inspector has none), so the used heap moves with the collector's timing.${APART ? " **Served apart** (`--apart`, bench/overhead/miniflare.ts `serveTrackerApart`): Stoker's tenants' trackers run in a second workerd process of their own (reached through Miniflare's dev registry; their memory is not in Stoker's figures) and its Cache API is a no-op, so Stoker's workerd holds neither the trackers nor a cache store. It does hold what the dev registry adds to reach them (a proxy worker every record's RPC goes through, and its connection), which a deploy does not have: this run separates what the trackers and the cache store cost the process, not a deploy's memory." : ""}`,
      "",
      "## Summary",
      "",
      `- After ${last.requests.toLocaleString("en-US")} requests Stoker's workerd holds **${f1(last.stokerRss)} MiB** (the null proxy's ${f1(last.referenceRss)} MiB); after ${atTenth.requests.toLocaleString("en-US")} it held ${f1(atTenth.stokerRss)} MiB. Its isolate's JS heap: ${f1(last.heapUsed)} MiB used of ${f1(last.heapTotal)} MiB (${f1(atTenth.heapUsed)} of ${f1(atTenth.heapTotal)} MiB after ${atTenth.requests.toLocaleString("en-US")}); the highest used heap at a checkpoint was ${f1(Math.max(...checkpoints.map((c) => c.heapUsed)))} MiB.`,
      `- Over the second half of the run (${half.requests.toLocaleString("en-US")} to ${last.requests.toLocaleString("en-US")} requests) resident memory grew ${f1(slope((c) => c.stokerRss))} MiB per 1,000 requests for Stoker and ${f1(slope((c) => c.referenceRss))} MiB for the null proxy, which keeps no state of its own${growth}.`,
      `- The tenants' tracker databases (SQLite, \`Tracker.storage()\` through the admin API; files under the run's state directory, where Miniflare keeps Durable Objects' databases) held ${f1(last.trackerMiB)} MiB in ${last.trackerRows.toLocaleString("en-US")} rows after ${last.requests.toLocaleString("en-US")} requests and grew ${f1(slope((c) => c.trackerMiB))} MiB per 1,000 requests over the second half: every table is bounded (src/tracker/storage.md), the largest bound, ${LIMITS.requests.toLocaleString("en-US")} request rows per tenant, far beyond this run.`,
      `- Failed requests (not 200 from either worker): ${last.failures}.`,
      "",
      "## Checkpoints",
      "",
      "| requests | Stoker RSS MiB | null proxy RSS MiB | Stoker JS heap used / total MiB | trackers' SQLite MiB / rows | seconds |",
      "|---|---|---|---|---|---|",
      ...checkpoints.map(
        (c) =>
          `| ${c.requests.toLocaleString("en-US")} | ${f1(c.stokerRss)} | ${f1(c.referenceRss)} | ${f1(c.heapUsed)} / ${f1(c.heapTotal)} | ${f1(c.trackerMiB)} / ${c.trackerRows.toLocaleString("en-US")} | ${f1(c.elapsedS)} |`,
      ),
      "",
    ].join("\n");
    writeFileSync(OUT, md);
    process.stderr.write(`[memory] wrote ${OUT}\n`);
  } finally {
    await stopAll();
    await sim.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();

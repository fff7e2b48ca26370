// Bounded load test on loopback: Stoker under `wrangler dev` (from a snapshot of src/, so edits during the
// run do not reload it) in front of the provider simulator (its own process, streaming with a delay between
// events like a model does). `--concurrency` clients each run multi-turn streaming conversations through
// Stoker (Anthropic Messages, OpenAI Chat Completions and Responses, over `--tenants` tenants, so caching
// happens), while `--direct` clients run the same kind of conversations straight at the simulator: the
// added latency is measured in the same run, under the same load. Stops by itself after `--duration`.
//
//   npm run load                                   # 60 s, 200 concurrent streams through Stoker
//   npm run load -- --duration 20 --concurrency 50 --no-write
//
// Reports requests, errors (must be 0), throughput, time to first byte and total time (p50/p99) through
// Stoker and direct, the tracker's queueing (how long after a response its accounting row lands, and how
// many lookups missed their deadline), workerd's memory over the run, and whether Stoker's accounting equals
// what the simulator billed, tenant by tenant, to the token. Writes the figures into docs/hardening.md
// (between `<!-- load:begin -->` and `<!-- load:end -->`) unless --no-write. Last line: `N passed, M failed`.
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { mulberry32 } from "../bench/economics/synthetic.ts";
import { writeDocSection } from "./lib/doc-section.ts";
import { check, interrupted, runMain, scratchDir, sleep, sourceVersion, tail } from "./lib/harness.ts";
import { groupProcs, openTrackers, rssKinds, rssMiB, servingWorkerd } from "./lib/procs.ts";
import { type ProviderTotals, type Sim, simStats, startSim } from "./lib/sim.ts";
import { type Stoker, snapshotWorker, startStoker } from "./lib/stoker.ts";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "60" },
    concurrency: { type: "string", default: "200" },
    direct: { type: "string", default: "20" },
    tenants: { type: "string", default: "10" },
    "stream-delay-ms": { type: "string", default: "100" },
    "no-write": { type: "boolean", default: false },
  },
});
const DURATION_MS = Number(values.duration) * 1000;
const CONCURRENCY = Number(values.concurrency);
const DIRECT = Number(values.direct);
const TENANTS = Number(values.tenants);
const STREAM_DELAY_MS = Number(values["stream-delay-ms"]);
for (const [name, v] of Object.entries({ DURATION_MS, CONCURRENCY, DIRECT, TENANTS, STREAM_DELAY_MS }))
  if (!Number.isFinite(v) || v < 0) throw new Error(`bad ${name}: ${v}`);

const RUN = randomBytes(4).toString("hex");
const MEMORY_EVERY_MS = 1_000;
const PROBE_EVERY_MS = 1_000;
/** The Worker's own isolate in workerd (its Durable Objects run in it too). */
const STOKER_ISOLATE = "core:user:stoker";
const REQUEST_TIMEOUT_MS = 60_000;
const ACCEPT_ENCODING = process.env.LOAD_ACCEPT_ENCODING ?? "identity";

// ---- workload --------------------------------------------------------------------------------------------

type Kind = "messages" | "chat" | "responses";
const PATHS: Record<Kind, string> = {
  messages: "/anthropic/v1/messages",
  chat: "/openai/v1/chat/completions",
  responses: "/openai/v1/responses",
};
/** The last event of an intact stream, per wire format. */
const TERMINAL: Record<Kind, string> = {
  messages: '"type":"message_stop"',
  chat: "data: [DONE]",
  responses: '"type":"response.completed"',
};

interface Tenant {
  id: string;
  key: string;
  ns: string;
}

const WORDS =
  "policy refund order shipping warranty account invoice schedule support handbook rule step".split(" ");
function text(rand: () => number, words: number, tag: string): string {
  const out: string[] = [tag];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(rand() * WORDS.length)] as string);
  return out.join(" ");
}

/** A tenant's few system prompts (families), each ~1,600 tokens: above every model's minimum to cache. */
const families = new Map<string, string[]>();
function familiesOf(tenant: string): string[] {
  let f = families.get(tenant);
  if (!f) {
    f = [0, 1, 2].map((i) =>
      text(mulberry32(i + 1), 900, `You are assistant ${i} of ${tenant}. Follow the handbook.`),
    );
    families.set(tenant, f);
  }
  return f;
}

interface Conversation {
  kind: Kind;
  tenant: Tenant;
  system: string;
  turns: number;
  history: { role: "user" | "assistant"; content: string }[];
}

function newConversation(rand: () => number, tenant: Tenant): Conversation {
  const r = rand();
  const kind: Kind = r < 0.5 ? "messages" : r < 0.8 ? "chat" : "responses";
  const fam = familiesOf(tenant.id);
  return {
    kind,
    tenant,
    system: fam[Math.floor(rand() * fam.length)] as string,
    turns: 2 + Math.floor(rand() * 5),
    history: [],
  };
}

function requestBody(c: Conversation): Record<string, unknown> {
  if (c.kind === "messages")
    return {
      model: "claude-sonnet-4-6",
      max_tokens: 64,
      stream: true,
      system: c.system,
      messages: c.history,
    };
  if (c.kind === "chat")
    return {
      model: "gpt-4o-mini",
      max_completion_tokens: 64,
      stream: true,
      messages: [{ role: "system", content: c.system }, ...c.history],
    };
  return {
    model: "gpt-4o-mini",
    max_output_tokens: 64,
    stream: true,
    instructions: c.system,
    input: c.history,
  };
}

// ---- one streaming request -------------------------------------------------------------------------------

interface Sample {
  target: "stoker" | "direct";
  kind: Kind;
  tenant: string;
  ok: boolean;
  error?: string;
  status: number;
  /** Until the response headers. */
  headersMs: number;
  /** Until the first body chunk. */
  firstByteMs: number;
  totalMs: number;
  endedAt: number;
  requestId: string | null;
}

async function streamOnce(
  base: string,
  c: Conversation,
  ns: string,
  target: Sample["target"],
): Promise<Sample> {
  const started = performance.now();
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-sim-namespace": ns,
    // As bench/overhead: the local runtime gzips Stoker's answers for a client that accepts it (the
    // simulator's it does not), and the compressor holds SSE events back (about +80 ms to the first byte
    // measured here with LOAD_ACCEPT_ENCODING="gzip, deflate, br"). Not a figure of Stoker's own.
    "accept-encoding": ACCEPT_ENCODING,
  };
  if (c.kind === "messages") {
    headers["x-api-key"] = c.tenant.key;
    headers["anthropic-version"] = "2023-06-01";
  } else headers.authorization = `Bearer ${c.tenant.key}`;
  const sample: Sample = {
    target,
    kind: c.kind,
    tenant: c.tenant.id,
    ok: false,
    status: 0,
    headersMs: 0,
    firstByteMs: 0,
    totalMs: 0,
    endedAt: 0,
    requestId: null,
  };
  try {
    const res = await fetch(`${base}${PATHS[c.kind]}`, {
      method: "POST",
      headers,
      body: JSON.stringify(requestBody(c)),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    sample.status = res.status;
    sample.headersMs = performance.now() - started;
    sample.requestId = res.headers.get("x-stoker-request-id");
    let body = "";
    const decoder = new TextDecoder();
    if (res.body) {
      for await (const chunk of res.body) {
        if (body === "") sample.firstByteMs = performance.now() - started;
        body += decoder.decode(chunk, { stream: true });
      }
    }
    sample.totalMs = performance.now() - started;
    sample.endedAt = Date.now();
    if (res.status !== 200) sample.error = `HTTP ${res.status}: ${body.slice(0, 200)}`;
    else if (/stream_interrupted|"type":"error"|The upstream stream/.test(body)) sample.error = "error event";
    else if (!body.includes(TERMINAL[c.kind])) sample.error = "no terminal event";
    else sample.ok = true;
  } catch (err) {
    sample.totalMs = performance.now() - started;
    sample.endedAt = Date.now();
    sample.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  }
  return sample;
}

// ---- processes: memory and CPU ---------------------------------------------------------------------------

const HZ = 100;
function cpuMs(pids: number[]): number {
  let ms = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ms += ((Number(f[11]) + Number(f[12])) * 1000) / HZ;
    } catch {
      // exited
    }
  }
  return ms;
}

// ---- the JS heaps, from workerd's own inspector (DevTools protocol) -------------------------------------

interface Isolate {
  id: string;
  call(
    method: string,
    params?: Record<string, unknown>,
    timeoutMs?: number,
  ): Promise<Record<string, unknown> | null>;
  close(): void;
}

/** TCP ports `pid` listens on (loopback, IPv4). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1] as string);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return [];
  }
  const ports: number[] = [];
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[3] === "0A" && inodes.has(f[9] as string))
      ports.push(Number.parseInt((f[1] as string).split(":")[1] as string, 16));
  }
  return ports;
}

/** A DevTools protocol session over `url` (`origin` for wrangler's inspector proxy, which checks it). */
async function session(id: string, url: string): Promise<Isolate | null> {
  // Node's WebSocket (undici) takes headers in its second argument.
  const ws = new WebSocket(url, { headers: { Origin: "http://localhost" } } as unknown as string[]);
  const open = await new Promise<boolean>((resolve) => {
    ws.addEventListener("open", () => resolve(true));
    ws.addEventListener("error", () => resolve(false));
    setTimeout(() => resolve(false), 2_000);
  });
  if (!open) return null;
  let next = 0;
  const waiting = new Map<number, (v: Record<string, unknown> | null) => void>();
  ws.addEventListener("message", (e) => {
    const text = String(e.data);
    // Heap snapshot chunks (taken only to force a full GC) are dropped unparsed.
    if (!text.startsWith('{"id"')) return;
    const m = JSON.parse(text) as { id?: number; result?: Record<string, unknown> };
    if (m.id === undefined) return;
    waiting.get(m.id)?.(m.result ?? null);
    waiting.delete(m.id);
  });
  return {
    id,
    call: (method, params = {}, timeoutMs = 10_000) =>
      new Promise((resolve) => {
        const n = ++next;
        waiting.set(n, resolve);
        ws.send(JSON.stringify({ id: n, method, params }));
        setTimeout(() => {
          if (waiting.delete(n)) resolve(null);
        }, timeoutMs);
      }),
    close: () => ws.close(),
  };
}

/**
 * Stoker's own isolate (its Worker and Durable Objects) through wrangler's inspector proxy, and the helper
 * isolates of the workerd process `pid` (miniflare's: the dev entry, the local observability collector…)
 * through workerd's own inspector.
 */
async function isolatesOf(stoker: Stoker, pid: number | undefined): Promise<Isolate[]> {
  const out: Isolate[] = [];
  try {
    const list = (await (await fetch(`${stoker.inspectorUrl}/json`)).json()) as {
      webSocketDebuggerUrl?: string;
    }[];
    const url = list[0]?.webSocketDebuggerUrl;
    const own = url ? await session(STOKER_ISOLATE, url) : null;
    if (own) out.push(own);
  } catch {
    // no inspector: no heap figures
  }
  for (const port of pid === undefined ? [] : listeningPorts(pid)) {
    let list: { id?: string; webSocketDebuggerUrl?: string }[];
    try {
      const res = await fetch(`http://127.0.0.1:${port}/json`, { signal: AbortSignal.timeout(1_000) });
      if (!res.ok) continue;
      list = (await res.json()) as typeof list;
    } catch {
      continue;
    }
    for (const target of list) {
      // Stoker's own isolate takes one session, wrangler's (its console output goes through it): a second
      // one here would take it over. Stoker's heap is read through wrangler's proxy above.
      if (!target.webSocketDebuggerUrl || !target.id || target.id === STOKER_ISOLATE) continue;
      const s = await session(target.id, target.webSocketDebuggerUrl);
      if (s) out.push(s);
    }
  }
  return out;
}

/**
 * Used JS heap per isolate, MiB. With `gc`, after a full collection: workerd answers no
 * `HeapProfiler.collectGarbage`, but a heap snapshot (discarded) collects first.
 */
async function heaps(isolates: Isolate[], gc = false): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const i of isolates) {
    if (gc) await i.call("HeapProfiler.takeHeapSnapshot", { reportProgress: false }, 120_000);
    const r = await i.call("Runtime.getHeapUsage");
    if (r) out[i.id] = Number(r.usedSize) / 1024 / 1024;
  }
  return out;
}

// ---- the tracker, read from its SQLite files (read-only) -------------------------------------------------

// ---- statistics ------------------------------------------------------------------------------------------

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}
const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : "—");
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "—");

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

// ---- main ------------------------------------------------------------------------------------------------

interface Figures {
  fields: string[][];
  markdown: string;
}

let sim: Sim | undefined;
let stoker: Stoker | undefined;

await runMain(
  async () => {
    const tenants: Tenant[] = Array.from({ length: TENANTS }, (_, i) => ({
      id: `load${i}`,
      key: `sk-stoker-load-${RUN}-${i}-${randomBytes(8).toString("hex")}`,
      ns: `load-${RUN}-${i}`,
    }));
    sim = await startSim({ streamDelayMs: STREAM_DELAY_MS, maxRecorded: 20 });
    const version = sourceVersion();
    const snapshot = snapshotWorker(scratchDir("stoker-load-src-"));
    stoker = await startStoker({
      simUrl: sim.url,
      persistTo: scratchDir("stoker-load-state-"),
      cwd: snapshot,
      logLevel: "warn",
      vars: {
        TENANTS: JSON.stringify(
          tenants.map((t) => ({ id: t.id, key_sha256: createHash("sha256").update(t.key).digest("hex") })),
        ),
        // Only warnings (tracker faults) in wrangler's output: one info line per request would flood it.
        LOG_LEVEL: process.env.LOAD_LOG_LEVEL ?? "warn",
        // Diagnostics: more vars as JSON, e.g. LOAD_VARS='{"KEEPALIVE_KILL_SWITCH":"1"}'.
        ...(JSON.parse(process.env.LOAD_VARS ?? "{}") as Record<string, string>),
      },
    });
    console.log(
      `load: ${CONCURRENCY} streams through Stoker + ${DIRECT} direct, ${TENANTS} tenants, ${DURATION_MS / 1000} s, ` +
        `stream delay ${STREAM_DELAY_MS} ms/event; Stoker ${stoker.url}, simulator ${sim.url}`,
    );

    // Tracker faults, counted from wrangler's output as it comes (its kept log is bounded).
    const faults = new Map<string, number>();
    let partial = "";
    const onData = (d: Buffer | string) => {
      const lines = (partial + d.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        const m = /"msg":"(tracker\.fault|engine\.fault)".*?"op":"(\w+)".*?"fault":"(\w+)"/.exec(line);
        if (m) faults.set(`${m[1]} ${m[2]} ${m[3]}`, (faults.get(`${m[1]} ${m[2]} ${m[3]}`) ?? 0) + 1);
        else if (line.includes('"level":"error"'))
          faults.set("error line", (faults.get("error line") ?? 0) + 1);
      }
    };
    stoker.child.stdout?.on("data", onData);
    stoker.child.stderr?.on("data", onData);

    const stokerPgid = stoker.child.pid ?? 0;
    const simPgid = sim.child.pid ?? 0;
    const workerds = () => groupProcs(stokerPgid).filter((p) => p.comm === "workerd");
    // wrangler dev runs two workerd processes: the dev proxy, and the one serving Stoker (with the
    // inspector): the latter holds the Worker, its Durable Objects and their SQLite.
    const isServing = servingWorkerd;
    const memory: { t: number; workerd: number; serving: number; sim: number }[] = [];
    const sampleMemory = (t: number) => {
      const procs = workerds();
      memory.push({
        t,
        workerd: procs.reduce((a, p) => a + rssMiB(p.pid), 0),
        serving: procs.filter((p) => isServing(p.pid)).reduce((a, p) => a + rssMiB(p.pid), 0),
        sim: groupProcs(simPgid).reduce((a, p) => a + rssMiB(p.pid), 0),
      });
    };

    // Warm-up: one conversation turn per tenant and kind (creates every tracker), unmeasured.
    const warm = await Promise.all(
      tenants.flatMap((t) =>
        (["messages", "chat", "responses"] as const).map((kind) => {
          const c: Conversation = {
            kind,
            tenant: t,
            system: familiesOf(t.id)[0] as string,
            turns: 1,
            history: [{ role: "user", content: "warm-up" }],
          };
          return streamOnce(stoker?.url as string, c, t.ns, "stoker");
        }),
      ),
    );
    const warmErrors = warm.filter((s) => !s.ok);
    if (!check("warm-up requests succeed", warmErrors.length === 0, warmErrors[0]?.error ?? `${warm.length}`))
      return;
    let stokerDone = warm.length;
    const perTenantDone = new Map<string, number>(tenants.map((t) => [t.id, 3]));

    const trackers = await openTrackers(stoker);
    check("every tenant's tracker is readable", trackers.size === TENANTS, `${trackers.size}/${TENANTS}`);
    let journal = "?";
    const first = trackers.values().next().value;
    try {
      if (first)
        journal = String(
          (first.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode,
        );
    } catch {
      // unknown
    }

    const serving = workerds().find((p) => isServing(p.pid));
    // The inspector is attached only to take these two readings: a DevTools session left open during the
    // run slows the isolate down.
    const startIsolates = await isolatesOf(stoker, serving?.pid);
    const heapStart = await heaps(startIsolates, true);
    for (const i of startIsolates) i.close();
    check(
      "the inspector answers for Stoker's isolate (JS heap)",
      heapStart[STOKER_ISOLATE] !== undefined,
      `${startIsolates.length} isolates`,
    );

    // ---- the run ----
    const samples: Sample[] = [];
    const probeLags: number[] = [];
    const started = Date.now();
    const deadline = started + DURATION_MS;
    const cpuStart = {
      workerd: cpuMs(workerds().map((p) => p.pid)),
      sim: cpuMs(groupProcs(simPgid).map((p) => p.pid)),
      self: process.cpuUsage(),
    };
    sampleMemory(0);
    const memTimer = setInterval(() => sampleMemory(Date.now() - started), MEMORY_EVERY_MS);
    const kindsOf = () => workerds().map((p) => ({ serving: isServing(p.pid), ...rssKinds(p.pid) }));
    const kindsStart = kindsOf();
    let inFlight = 0;
    let peakInFlight = 0;

    const loop = async (i: number, target: Sample["target"]) => {
      const rand = mulberry32((i + 1) * (target === "stoker" ? 7919 : 104729));
      const base = target === "stoker" ? (stoker as Stoker).url : (sim?.url as string);
      while (Date.now() < deadline && !interrupted()) {
        const tenant = tenants[i % tenants.length] as Tenant;
        const c = newConversation(rand, tenant);
        // Direct conversations use namespaces of their own: the simulator's totals per tenant namespace
        // stay Stoker's alone, for the accounting comparison.
        const ns = target === "stoker" ? tenant.ns : `direct-${RUN}-${i % tenants.length}`;
        for (let turn = 0; turn < c.turns && Date.now() < deadline; turn++) {
          c.history.push({
            role: "user",
            content: text(rand, 40 + Math.floor(rand() * 120), `Turn ${turn}:`),
          });
          if (target === "stoker") peakInFlight = Math.max(peakInFlight, ++inFlight);
          const s = await streamOnce(base, c, ns, target);
          if (target === "stoker") {
            inFlight--;
            stokerDone++;
            perTenantDone.set(tenant.id, (perTenantDone.get(tenant.id) ?? 0) + 1);
          }
          samples.push(s);
          c.history.push({ role: "assistant", content: `Reply ${turn}.` });
        }
      }
    };

    // Probes: one small request on a loaded tenant each second; how long until its accounting row lands.
    const probe = async () => {
      let n = 0;
      while (Date.now() < deadline && !interrupted()) {
        await sleep(PROBE_EVERY_MS);
        const tenant = tenants[n++ % tenants.length] as Tenant;
        const db = trackers.get(tenant.id);
        const c: Conversation = {
          kind: "messages",
          tenant,
          system: familiesOf(tenant.id)[1] as string,
          turns: 1,
          history: [{ role: "user", content: `probe ${n}` }],
        };
        const s = await streamOnce((stoker as Stoker).url, c, tenant.ns, "stoker");
        stokerDone++;
        perTenantDone.set(tenant.id, (perTenantDone.get(tenant.id) ?? 0) + 1);
        if (!s.ok || !s.requestId || !db) {
          samples.push(s);
          continue;
        }
        const stmt = db.prepare("SELECT 1 AS x FROM requests WHERE request_id = ?");
        const until = Date.now() + 15_000;
        while (Date.now() < until && !stmt.get(s.requestId)) await sleep(2);
        probeLags.push(Date.now() - s.endedAt);
      }
    };

    const loops = [
      ...Array.from({ length: CONCURRENCY }, (_, i) => loop(i, "stoker")),
      ...Array.from({ length: DIRECT }, (_, i) => loop(i, "direct")),
      probe(),
    ];
    await Promise.all(loops);
    const wallMs = Date.now() - started;
    clearInterval(memTimer);
    const cpuEnd = {
      workerd: cpuMs(workerds().map((p) => p.pid)),
      sim: cpuMs(groupProcs(simPgid).map((p) => p.pid)),
      self: process.cpuUsage(cpuStart.self),
    };

    // ---- settle: every record landed ----
    const settleStart = Date.now();
    const trackerCount = () =>
      [...trackers.values()].reduce(
        (a, db) => a + (db.prepare("SELECT COUNT(*) AS n FROM requests").get() as { n: number }).n,
        0,
      );
    while (trackerCount() < stokerDone && Date.now() - settleStart < 60_000) await sleep(100);
    const settleMs = Date.now() - settleStart;
    await sleep(5_000);
    sampleMemory(Date.now() - started);
    const endIsolates = await isolatesOf(stoker, serving?.pid);
    const heapEnd = await heaps(endIsolates, true);
    for (const i of endIsolates) i.close();

    // ---- accounting: Stoker's tracker (analytics API and SQLite) vs the simulator's bill ----
    const from = new Date(started - 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const mismatches: string[] = [];
    const sum = { requests: 0, uncached: 0, read: 0, write5m: 0, write1h: 0, output: 0 };
    let viaApi = true;
    for (const t of tenants) {
      const billed: ProviderTotals = (await simStats(sim.url, t.ns)).total;
      const db = trackers.get(t.id);
      const sql = db
        ?.prepare(
          `SELECT COUNT(*) AS requests, SUM(uncached_tokens) AS uncached, SUM(cache_read_tokens) AS read,
          SUM(cache_write_5m_tokens) AS write5m, SUM(cache_write_1h_tokens) AS write1h, SUM(output_tokens) AS output
          FROM requests`,
        )
        .get() as Record<string, number> | undefined;
      let api: Record<string, number> | null = null;
      try {
        const res = await fetch(`${stoker.url}/v1/analytics/summary?${new URLSearchParams({ from, to })}`, {
          headers: { authorization: `Bearer ${t.key}` },
        });
        if (res.ok) api = (await res.json()) as Record<string, number>;
        else viaApi = false;
      } catch {
        viaApi = false;
      }
      const expected = {
        requests: billed.requests,
        uncached: billed.uncached_input_tokens,
        read: billed.cache_read_input_tokens,
        write5m: billed.cache_write_5m_input_tokens,
        write1h: billed.cache_write_1h_input_tokens,
        output: billed.output_tokens,
      };
      const stokerSql = {
        requests: sql?.requests ?? -1,
        uncached: sql?.uncached ?? -1,
        read: sql?.read ?? -1,
        write5m: sql?.write5m ?? -1,
        write1h: sql?.write1h ?? -1,
        output: sql?.output ?? -1,
      };
      for (const k of Object.keys(expected) as (keyof typeof expected)[]) {
        sum[k] += expected[k];
        if (stokerSql[k] !== expected[k])
          mismatches.push(`${t.id} ${k}: tracker ${stokerSql[k]}, simulator ${expected[k]}`);
      }
      if ((perTenantDone.get(t.id) ?? 0) !== billed.requests)
        mismatches.push(`${t.id} requests: client ${perTenantDone.get(t.id)}, simulator ${billed.requests}`);
      if (api) {
        const a = {
          requests: api.requests,
          uncached: api.uncached_tokens,
          read: api.cache_read_tokens,
          write5m: api.cache_write_5m_tokens,
          write1h: api.cache_write_1h_tokens,
          output: api.output_tokens,
        };
        for (const k of Object.keys(expected) as (keyof typeof expected)[])
          if (a[k] !== expected[k])
            mismatches.push(`${t.id} ${k}: analytics API ${a[k]}, simulator ${expected[k]}`);
      }
    }
    for (const db of trackers.values()) db.close();

    // ---- figures ----
    const mine = samples.filter((s) => s.target === "stoker");
    const direct = samples.filter((s) => s.target === "direct");
    const errors = samples.filter((s) => !s.ok);
    const ok = (xs: Sample[]) => xs.filter((s) => s.ok);
    const lat = (xs: Sample[], key: "firstByteMs" | "totalMs" | "headersMs", p: number) =>
      pct(
        ok(xs).map((s) => s[key]),
        p,
      );
    const memRun = memory.filter((m) => m.t <= wallMs);
    const afterWarm = memRun.filter((m) => m.t >= Math.min(10_000, wallMs / 4));
    const workerdSlope = slope(afterWarm.map((m) => [m.t / 60_000, m.workerd]));
    const memFirst = afterWarm.slice(0, 5);
    const memLast = afterWarm.slice(-5);
    const avg = (xs: { workerd: number }[]) => xs.reduce((a, m) => a + m.workerd, 0) / Math.max(1, xs.length);
    const memGrowth = avg(memLast) - avg(memFirst);
    const memPeak = Math.max(...memory.map((m) => m.workerd));
    const memEnd = memory.at(-1)?.workerd ?? 0;
    const sumOf = (h: Record<string, number>) => Object.values(h).reduce((a, b) => a + b, 0);
    const heapGrowth = (heapEnd[STOKER_ISOLATE] ?? 0) - (heapStart[STOKER_ISOLATE] ?? 0);
    const lookups = mine.length + warm.length;
    const lookupTimeouts = faults.get("tracker.fault lookup timeout") ?? 0;
    const recordFaults = [...faults]
      .filter(([k]) => k.startsWith("tracker.fault record"))
      .reduce((a, [, n]) => a + n, 0);
    const byKind = (["messages", "chat", "responses"] as const)
      .map((k) => `${k} ${mine.filter((s) => s.kind === k).length}`)
      .join(", ");
    const hitRate = sum.read / Math.max(1, sum.read + sum.uncached + sum.write5m + sum.write1h);
    const selfCpu = (cpuEnd.self.user + cpuEnd.self.system) / 1000;

    const rows: string[][] = [
      [
        "requests through Stoker",
        `${mine.length} in ${f1(wallMs / 1000)} s (${byKind}); peak ${peakInFlight} in flight`,
      ],
      [
        "errors",
        `${errors.length} (through Stoker ${errors.filter((s) => s.target === "stoker").length}, direct ${errors.filter((s) => s.target === "direct").length})`,
      ],
      ["throughput through Stoker", `${f1(mine.length / (wallMs / 1000))} streaming requests/s`],
      ["requests straight to the simulator", `${direct.length} (${DIRECT} clients, same load)`],
      [
        "time to response headers p50 / p99",
        `Stoker ${f0(lat(mine, "headersMs", 50))} / ${f0(lat(mine, "headersMs", 99))} ms, direct ${f0(lat(direct, "headersMs", 50))} / ${f0(lat(direct, "headersMs", 99))} ms`,
      ],
      [
        "time to first byte p50 / p99",
        `Stoker ${f0(lat(mine, "firstByteMs", 50))} / ${f0(lat(mine, "firstByteMs", 99))} ms, direct ${f0(lat(direct, "firstByteMs", 50))} / ${f0(lat(direct, "firstByteMs", 99))} ms`,
      ],
      [
        "added time to first byte p50 / p99",
        `${f0(lat(mine, "firstByteMs", 50) - lat(direct, "firstByteMs", 50))} / ${f0(lat(mine, "firstByteMs", 99) - lat(direct, "firstByteMs", 99))} ms`,
      ],
      [
        "total time p50 / p99",
        `Stoker ${f0(lat(mine, "totalMs", 50))} / ${f0(lat(mine, "totalMs", 99))} ms, direct ${f0(lat(direct, "totalMs", 50))} / ${f0(lat(direct, "totalMs", 99))} ms`,
      ],
      [
        "added total time p50 / p99",
        `${f0(lat(mine, "totalMs", 50) - lat(direct, "totalMs", 50))} / ${f0(lat(mine, "totalMs", 99) - lat(direct, "totalMs", 99))} ms`,
      ],
      [
        "JS heap of Stoker's isolate (Worker + Durable Objects)",
        `${f1(heapStart[STOKER_ISOLATE] ?? Number.NaN)} MiB after warm-up, ${f1(heapEnd[STOKER_ISOLATE] ?? Number.NaN)} MiB after the run (each after a full GC); all ${Object.keys(heapEnd).length} isolates of the serving workerd ${f1(sumOf(heapStart))} → ${f1(sumOf(heapEnd))} MiB`,
      ],
      [
        "tracker: record landed after the response",
        `p50 ${f0(pct(probeLags, 50))} ms, p99 ${f0(pct(probeLags, 99))} ms, max ${f0(Math.max(...probeLags))} ms (${probeLags.length} probes); all records landed ${f1(settleMs / 1000)} s after the last response`,
      ],
      [
        "tracker: lookups past their deadline (planned without the tracker)",
        `${lookupTimeouts} of ${lookups} (${f1((100 * lookupTimeouts) / Math.max(1, lookups))} %)`,
      ],
      ["tracker: records rejected or failed", `${recordFaults}`],
      [
        "workerd memory (RSS, all workerd processes)",
        `${f0(memory[0]?.workerd ?? 0)} MiB at start, ${f0(memPeak)} MiB peak, ${f0(memEnd)} MiB 5 s after the run; ${workerdSlope >= 0 ? "+" : ""}${f1(workerdSlope)} MiB/min over the run after warm-up (${memGrowth >= 0 ? "+" : ""}${f1(memGrowth)} MiB first 5 s vs last 5 s)`,
      ],
      [
        "accounting vs the simulator's bill",
        mismatches.length === 0
          ? `equal for all ${TENANTS} tenants, to the token (tracker SQLite${viaApi ? " and /v1/analytics/summary" : ""}): ${sum.requests} requests, ${sum.uncached} uncached + ${sum.read} read + ${sum.write5m} 5m-write + ${sum.write1h} 1h-write input tokens, ${sum.output} output`
          : `${mismatches.length} mismatches`,
      ],
      ["cache", `token hit rate ${f1(100 * hitRate)} % (read / all input, as billed)`],
      [
        "CPU over the run (2 cores = 200 %)",
        `workerd ${f0((100 * (cpuEnd.workerd - cpuStart.workerd)) / wallMs)} %, simulator ${f0((100 * (cpuEnd.sim - cpuStart.sim)) / wallMs)} %, load generator ${f0((100 * selfCpu) / wallMs)} %`,
      ],
      ["tracker SQLite journal", journal],
    ];
    const width = Math.max(...rows.map((r) => (r[0] as string).length));
    console.log(rows.map(([k, v]) => `${(k as string).padEnd(width)}  ${v}`).join("\n"));
    if (faults.size > 0)
      console.log(`faults in Stoker's log: ${[...faults].map(([k, n]) => `${k} × ${n}`).join(", ")}`);
    for (const m of mismatches.slice(0, 20)) console.log(`  mismatch: ${m}`);
    for (const e of errors.slice(0, 10))
      console.log(`  error: ${e.target} ${e.kind} ${e.tenant}: ${e.error}`);

    // The memory series (the RSS question of issue 18) are printed also when the page is not rewritten.
    const kindsEnd = kindsOf();
    const kindLine = (k: ReturnType<typeof kindsOf>) =>
      k
        .map(
          (p) =>
            `${p.serving ? "serving" : "proxy"} anon ${f0(p.anon)} file ${f0(p.file)} shmem ${f0(p.shmem)}`,
        )
        .join("; ");
    console.log(
      `RSS by kind (MiB) at the run's start: ${kindLine(kindsStart)}; 5 s after: ${kindLine(kindsEnd)}`,
    );
    console.log(`RSS all workerd (MiB/s): ${memory.map((m) => f0(m.workerd)).join(" ")}`);
    console.log(`RSS serving workerd (MiB/s): ${memory.map((m) => f0(m.serving)).join(" ")}`);
    const figures: Figures = {
      fields: rows,
      markdown: [
        `Run ${new Date().toISOString().slice(0, 16)}Z on ${cpus().length} cores, source ${version}: \`npm run load -- --duration ${DURATION_MS / 1000} --concurrency ${CONCURRENCY} --direct ${DIRECT} --tenants ${TENANTS} --stream-delay-ms ${STREAM_DELAY_MS}\`.`,
        "",
        "| figure | value |",
        "| --- | --- |",
        ...rows.map(([k, v]) => `| ${k} | ${v} |`),
        "",
        `Memory samples (RSS, MiB, every ${MEMORY_EVERY_MS / 1000} s; the last one 5 s after the run), all workerd: ${memory.map((m) => f0(m.workerd)).join(" ")}`,
        "",
        `Of which the workerd serving Stoker (the other is wrangler's dev proxy): ${memory.map((m) => f0(m.serving)).join(" ")}`,
        "",
        `The simulator: ${memory.map((m) => f0(m.sim)).join(" ")}`,
        "",
        `JS heap after a full GC, per isolate (MiB), after warm-up → after the run: ${Object.keys(heapEnd)
          .map((k) => `${k} ${f1(heapStart[k] ?? Number.NaN)} → ${f1(heapEnd[k] ?? Number.NaN)}`)
          .join(", ")}`,
      ].join("\n"),
    };
    if (!values["no-write"]) writeDocSection("docs/hardening.md", "load", figures.markdown);

    check(
      `at least ${CONCURRENCY} streams were in flight at once`,
      peakInFlight >= CONCURRENCY,
      `peak ${peakInFlight}`,
    );
    check("0 errors", errors.length === 0, `${errors.length}`);
    check(
      "Stoker's accounting equals the simulator's bill, tenant by tenant, to the token",
      mismatches.length === 0,
      mismatches[0] ?? "",
    );
    check("no tracker record failed", recordFaults === 0, `${recordFaults}`);
    check(
      "Stoker's JS heap is flat: after a full GC it ends within 16 MiB of where it started",
      Number.isFinite(heapGrowth) && heapGrowth < 16,
      `${heapGrowth >= 0 ? "+" : ""}${f1(heapGrowth)} MiB`,
    );
  },
  {
    onFailure: () => {
      if (stoker) console.log(`wrangler dev log (tail):\n${tail(stoker.log(), 30)}`);
    },
  },
);

// A bad day under load (issue 18), on loopback: Stoker under `wrangler dev` (a snapshot of src/, as
// scripts/load.ts) in front of the provider simulator, with STOKER_LOCAL_DEV so that `POST /__dev/abort` can
// make a Durable Object reset itself (`ctx.abort()`, as an eviction or a deploy would). While valid tenants
// (config tenants and admin-created ones, which resolve through the tenant directory) run streaming
// conversations:
// - every `--restart-every` seconds a tenant's tracker, or the tenant directory, is reset;
// - `--flood` clients send well-formed unknown tenant keys as fast as they are answered;
// - one client sends a body of the deploy's maximum size (MAX_BODY_BYTES, 32 MiB by default) every
//   `--max-body-every` seconds;
// - once, 8 s in, one tenant's tracker takes no call for `--stall-ms` (`POST /__dev/stall`, as an overloaded
//   or unreachable object would): its records outlast it through the record queue.
// It reports requests answered, requests accounted (each tenant's tracker SQLite against the simulator's bill,
// to the token), valid-tenant errors (must be 0) and the workerd memory high-water mark.
//
//   npm run chaos                          # 45 s, writes its section into docs/hardening.md
//   npm run chaos -- --duration 20 --no-write
//
// Last line: `N passed, M failed`.

import { createHash, randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { writeDocSection } from "./lib/doc-section.ts";
import { check, interrupted, runMain, scratchDir, sleep, sourceVersion } from "./lib/harness.ts";
import { groupProcs, openTrackers, rssMiB, servingWorkerd } from "./lib/procs.ts";
import { type Sim, simStats, startSim } from "./lib/sim.ts";
import { type Stoker, snapshotWorker, startStoker } from "./lib/stoker.ts";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "45" },
    concurrency: { type: "string", default: "30" },
    "restart-every": { type: "string", default: "3" },
    flood: { type: "string", default: "8" },
    "max-body-mib": { type: "string", default: "32" },
    "max-body-every": { type: "string", default: "10" },
    "stall-ms": { type: "string", default: "20000" },
    "no-write": { type: "boolean", default: false },
  },
});
const DURATION_MS = Number(values.duration) * 1000;
const CONCURRENCY = Number(values.concurrency);
const RESTART_EVERY_MS = Number(values["restart-every"]) * 1000;
const FLOOD = Number(values.flood);
const MAX_BODY = Number(values["max-body-mib"]) * 1024 * 1024;
const MAX_BODY_EVERY_MS = Number(values["max-body-every"]) * 1000;
const STALL_MS = Number(values["stall-ms"]);
const RUN = randomBytes(4).toString("hex");
const ADMIN_TOKEN = `chaos-admin-${RUN}`;
const CONFIG_TENANTS = 3;
const ADMIN_TENANTS = 3;

type Kind = "messages" | "chat" | "responses";
const PATHS: Record<Kind, string> = {
  messages: "/anthropic/v1/messages",
  chat: "/openai/v1/chat/completions",
  responses: "/openai/v1/responses",
};
const TERMINAL: Record<Kind, string> = {
  messages: "event: message_stop",
  chat: "data: [DONE]",
  responses: "response.completed",
};

interface Tenant {
  id: string;
  key: string;
  ns: string;
}

const system = (t: Tenant) =>
  `You are the assistant of ${t.id}. ${Array.from({ length: 1600 }, (_, i) => `rule${i % 97}`).join(" ")}`;

function body(kind: Kind, t: Tenant, history: { role: string; content: string }[]): Record<string, unknown> {
  if (kind === "messages")
    return { model: "claude-sonnet-4-6", max_tokens: 32, stream: true, system: system(t), messages: history };
  if (kind === "chat")
    return {
      model: "gpt-4o-mini",
      max_completion_tokens: 32,
      stream: true,
      messages: [{ role: "system", content: system(t) }, ...history],
    };
  return {
    model: "gpt-4o-mini",
    max_output_tokens: 32,
    stream: true,
    instructions: system(t),
    input: history,
  };
}

function headers(kind: Kind, t: Tenant): Record<string, string> {
  const h: Record<string, string> = {
    "content-type": "application/json",
    "x-sim-namespace": t.ns,
    "accept-encoding": "identity",
  };
  if (kind === "messages") {
    h["x-api-key"] = t.key;
    h["anthropic-version"] = "2023-06-01";
  } else h.authorization = `Bearer ${t.key}`;
  return h;
}

interface Answer {
  ok: boolean;
  status: number;
  error?: string;
}

/** One streaming request, read to its end. */
async function send(base: string, kind: Kind, t: Tenant, payload: string | Uint8Array): Promise<Answer> {
  try {
    const res = await fetch(`${base}${PATHS[kind]}`, {
      method: "POST",
      headers: headers(kind, t),
      body: payload,
      signal: AbortSignal.timeout(120_000),
    });
    const text = await res.text();
    if (res.status !== 200) return { ok: false, status: res.status, error: text.slice(0, 200) };
    if (/stream_interrupted|"type":"error"|The upstream stream/.test(text))
      return { ok: false, status: 200, error: "error event" };
    if (!text.includes(TERMINAL[kind])) return { ok: false, status: 200, error: "no terminal event" };
    return { ok: true, status: 200 };
  } catch (err) {
    return {
      ok: false,
      status: 0,
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    };
  }
}

/** A valid Anthropic body of exactly `bytes` bytes (16 KiB text blocks, the last one padded). */
function maxBody(bytes: number, t: Tenant, n: number): Uint8Array {
  const block = `${"lorem ipsum dolor sit amet ".repeat(600)}`;
  const head = JSON.stringify({
    model: "claude-sonnet-4-6",
    max_tokens: 8,
    stream: true,
    messages: [{ role: "user", content: [{ type: "text", text: `max body ${n} of ${t.id}` }] }],
  });
  // Splice blocks into the content array: `…}]}]}` → `…},{"type":"text","text":"…"}…]}]}`.
  const open = head.slice(0, -4);
  const close = head.slice(-4);
  const parts: string[] = [open];
  let size = open.length + close.length;
  const item = `,{"type":"text","text":"${block}"}`;
  while (size + item.length < bytes - 40) {
    parts.push(item);
    size += item.length;
  }
  const pad = bytes - size - ',{"type":"text","text":""}'.length;
  parts.push(`,{"type":"text","text":"${"x".repeat(Math.max(0, pad))}"}`, close);
  return new TextEncoder().encode(parts.join(""));
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? Number.NaN
    : (s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number);
};

let sim: Sim | undefined;
let stoker: Stoker | undefined;

await runMain(async () => {
  const configTenants: Tenant[] = Array.from({ length: CONFIG_TENANTS }, (_, i) => ({
    id: `chaos${i}`,
    key: `sk-chaos-${RUN}-${i}-${randomBytes(8).toString("hex")}`,
    ns: `chaos-${RUN}-c${i}`,
  }));
  sim = await startSim({ streamDelayMs: 20, maxRecorded: 1 });
  const version = sourceVersion();
  stoker = await startStoker({
    simUrl: sim.url,
    persistTo: scratchDir("stoker-chaos-state-"),
    cwd: snapshotWorker(scratchDir("stoker-chaos-src-")),
    logLevel: "warn",
    vars: {
      TENANTS: JSON.stringify(
        configTenants.map((t) => ({
          id: t.id,
          key_sha256: createHash("sha256").update(t.key).digest("hex"),
        })),
      ),
      STOKER_LOCAL_DEV: "1",
      ADMIN_TOKEN,
      LOG_LEVEL: "warn",
      MAX_BODY_BYTES: String(MAX_BODY),
    },
  });
  const base = stoker.url;
  // Admin-created tenants resolve through the tenant directory (config tenants are compared in memory).
  const adminTenants: Tenant[] = [];
  for (let i = 0; i < ADMIN_TENANTS; i++) {
    const id = `chaosadm${i}`;
    const res = await fetch(`${base}/v1/admin/tenants`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ id }),
    });
    const json = (await res.json()) as { key?: string };
    if (!check(`admin tenant ${id} created`, res.status === 201 && !!json.key, String(res.status))) return;
    adminTenants.push({ id, key: json.key as string, ns: `chaos-${RUN}-a${i}` });
  }
  const tenants = [...configTenants, ...adminTenants];
  console.log(
    `chaos: ${CONCURRENCY} streams over ${tenants.length} tenants (${ADMIN_TENANTS} via the directory), ` +
      `a restart every ${RESTART_EVERY_MS / 1000} s, ${FLOOD} flood clients, ${MAX_BODY / 1048576} MiB bodies, ` +
      `${DURATION_MS / 1000} s; Stoker ${base}, simulator ${sim.url}`,
  );

  // Faults in wrangler's output (the Worker's warnings), counted as they come.
  const faults = new Map<string, number>();
  let partial = "";
  const onData = (d: Buffer | string) => {
    const lines = (partial + d.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      const m = /"msg":"([\w.]+)"/.exec(line);
      if (m && /fault|error|"record\.(queued|lost)"/.test(line))
        faults.set(m[1] as string, (faults.get(m[1] as string) ?? 0) + 1);
    }
  };
  stoker.child.stdout?.on("data", onData);
  stoker.child.stderr?.on("data", onData);

  const pgid = stoker.child.pid ?? 0;
  const memory: { all: number; serving: number }[] = [];
  const sampleMemory = () => {
    const procs = groupProcs(pgid).filter((p) => p.comm === "workerd");
    memory.push({
      all: procs.reduce((a, p) => a + rssMiB(p.pid), 0),
      serving: procs.filter((p) => servingWorkerd(p.pid)).reduce((a, p) => a + rssMiB(p.pid), 0),
    });
  };

  // Warm-up: one request per tenant (creates every tracker, fills the isolate's tenant cache).
  const warm = await Promise.all(
    tenants.map((t) =>
      send(base, "messages", t, JSON.stringify(body("messages", t, [{ role: "user", content: "hi" }]))),
    ),
  );
  if (
    !check(
      "warm-up answered",
      warm.every((a) => a.ok),
      warm.find((a) => !a.ok)?.error ?? "",
    )
  )
    return;
  const answered = new Map<string, number>(tenants.map((t) => [t.id, 1]));
  const validErrors: string[] = [];
  let validRequests = warm.length;

  const started = Date.now();
  const deadline = started + DURATION_MS;
  sampleMemory();
  const memTimer = setInterval(sampleMemory, 1000);

  const conversations = async (i: number) => {
    let n = 0;
    while (Date.now() < deadline && !interrupted()) {
      const t = tenants[i % tenants.length] as Tenant;
      const kind = (["messages", "chat", "responses"] as const)[(i + n++) % 3] as Kind;
      const history: { role: string; content: string }[] = [];
      for (let turn = 0; turn < 3 && Date.now() < deadline; turn++) {
        history.push({ role: "user", content: `client ${i} conversation ${n} turn ${turn}` });
        const a = await send(base, kind, t, JSON.stringify(body(kind, t, history)));
        validRequests++;
        if (a.ok) answered.set(t.id, (answered.get(t.id) ?? 0) + 1);
        else validErrors.push(`${t.id} ${kind}: ${a.status} ${a.error ?? ""}`);
        history.push({ role: "assistant", content: `reply ${turn}` });
      }
    }
  };

  const restarts = { tracker: 0, directory: 0, refused: 0 };
  const restarter = async () => {
    let n = 0;
    while (Date.now() < deadline - RESTART_EVERY_MS && !interrupted()) {
      await sleep(RESTART_EVERY_MS);
      const t = tenants[n % tenants.length] as Tenant;
      const object = n++ % 3 === 2 ? "directory" : "tracker";
      const q = object === "directory" ? "object=directory" : `object=tracker&tenant=${t.id}`;
      const res = await fetch(`${base}/__dev/abort?${q}`, { method: "POST" }).catch(() => null);
      const json = res?.ok ? ((await res.json()) as { aborted?: boolean }) : null;
      if (json?.aborted) restarts[object]++;
      else restarts.refused++;
    }
  };

  const stall = { tenant: "", ms: 0 };
  const staller = async () => {
    if (!(STALL_MS > 0)) return;
    await sleep(8_000);
    const t = tenants[0] as Tenant;
    const res = await fetch(`${base}/__dev/stall?tenant=${t.id}&ms=${STALL_MS}`, { method: "POST" }).catch(
      () => null,
    );
    const json = res?.ok ? ((await res.json()) as { stalled_ms?: number }) : null;
    if (json?.stalled_ms) Object.assign(stall, { tenant: t.id, ms: json.stalled_ms });
  };

  const flood = { sent: 0, statuses: new Map<number, number>() };
  const flooder = async (i: number) => {
    while (Date.now() < deadline && !interrupted()) {
      const key = `sk-stoker-${randomBytes(32).toString("base64url").slice(0, 43)}`;
      const res = await fetch(`${base}/anthropic/v1/messages`, {
        method: "POST",
        headers: {
          "x-api-key": key,
          "content-type": "application/json",
          "anthropic-version": "2023-06-01",
          "cf-connecting-ip": `10.0.${i}.${flood.sent % 250}`,
        },
        body: '{"model":"claude-sonnet-4-6","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}',
      }).catch(() => null);
      flood.sent++;
      const status = res?.status ?? 0;
      flood.statuses.set(status, (flood.statuses.get(status) ?? 0) + 1);
      await res?.body?.cancel();
    }
  };

  const big = { sent: 0, ok: 0, ms: [] as number[] };
  const bigSender = async () => {
    let n = 0;
    // Spaced: the simulator (one Node thread) spends seconds on each one, and the run is about Stoker.
    // None in the last 20 s: under this load one can take tens of seconds, and the run should end on time.
    for (let next = started + 2_000; next < deadline - 20_000 && !interrupted(); next += MAX_BODY_EVERY_MS) {
      await sleep(Math.max(0, next - Date.now()));
      const t = tenants[n % tenants.length] as Tenant;
      const payload = maxBody(MAX_BODY, t, n++);
      const t0 = performance.now();
      const a = await send(base, "messages", t, payload);
      big.ms.push(performance.now() - t0);
      big.sent++;
      validRequests++;
      if (a.ok) {
        big.ok++;
        answered.set(t.id, (answered.get(t.id) ?? 0) + 1);
      } else validErrors.push(`${t.id} max body: ${a.status} ${a.error ?? ""}`);
    }
  };

  await Promise.all([
    ...Array.from({ length: CONCURRENCY }, (_, i) => conversations(i)),
    ...Array.from({ length: FLOOD }, (_, i) => flooder(i)),
    restarter(),
    staller(),
    bigSender(),
  ]);
  const wallMs = Date.now() - started;

  // ---- settle: every answered request accounted in its tenant's tracker ----
  const trackers = await openTrackers(stoker);
  const rows = (id: string) =>
    (trackers.get(id)?.prepare("SELECT COUNT(*) AS n FROM requests").get() as { n: number } | undefined)?.n ??
    0;
  const expected = [...answered.values()].reduce((a, b) => a + b, 0);
  const settleStart = Date.now();
  while (tenants.reduce((a, t) => a + rows(t.id), 0) < expected && Date.now() - settleStart < 60_000)
    await sleep(200);
  const settleMs = Date.now() - settleStart;
  clearInterval(memTimer);
  sampleMemory();

  // ---- accounting vs the simulator's bill, per tenant, to the token ----
  const mismatches: string[] = [];
  const total = { billed: 0, accounted: 0, input: 0 };
  for (const t of tenants) {
    const billed = (await simStats(sim.url, t.ns)).total;
    const sql = trackers
      .get(t.id)
      ?.prepare(
        `SELECT COUNT(*) AS requests, SUM(uncached_tokens) AS uncached, SUM(cache_read_tokens) AS read,
        SUM(cache_write_5m_tokens) AS write5m, SUM(cache_write_1h_tokens) AS write1h, SUM(output_tokens) AS output
        FROM requests WHERE status = 200`,
      )
      .get() as Record<string, number> | undefined;
    const want = {
      requests: billed.requests,
      uncached: billed.uncached_input_tokens,
      read: billed.cache_read_input_tokens,
      write5m: billed.cache_write_5m_input_tokens,
      write1h: billed.cache_write_1h_input_tokens,
      output: billed.output_tokens,
    };
    total.billed += billed.requests;
    total.accounted += sql?.requests ?? 0;
    total.input += want.uncached + want.read + want.write5m + want.write1h;
    for (const [k, v] of Object.entries(want))
      if ((sql?.[k] ?? 0) !== v) mismatches.push(`${t.id} ${k}: tracker ${sql?.[k] ?? 0}, billed ${v}`);
  }
  for (const db of trackers.values()) db.close();

  const highAll = Math.max(...memory.map((m) => m.all));
  const highServing = Math.max(...memory.map((m) => m.serving));
  const floodLine = [...flood.statuses]
    .sort((a, b) => b[1] - a[1])
    .map(([s, n]) => `${s} × ${n}`)
    .join(", ");
  const faultLine = [...faults].map(([k, n]) => `${k} ${n}`).join(", ") || "none";
  const lines = [
    `Run ${new Date().toISOString().slice(0, 16)}Z on this machine, source ${version}: \`npm run chaos -- --duration ${DURATION_MS / 1000} --concurrency ${CONCURRENCY} --restart-every ${RESTART_EVERY_MS / 1000} --flood ${FLOOD} --max-body-mib ${MAX_BODY / 1048576} --max-body-every ${MAX_BODY_EVERY_MS / 1000} --stall-ms ${STALL_MS}\`.`,
    "",
    "| figure | value |",
    "| --- | --- |",
    `| valid-tenant requests | ${validRequests} in ${(wallMs / 1000).toFixed(1)} s (${CONFIG_TENANTS} config tenants, ${ADMIN_TENANTS} admin-created through the directory; streaming Messages, Chat, Responses) |`,
    `| answered | ${expected} (complete streams, 200) |`,
    `| valid-tenant errors | ${validErrors.length} |`,
    `| restarts (ctx.abort) | ${restarts.tracker} trackers, ${restarts.directory} directory${restarts.refused ? `, ${restarts.refused} refused` : ""} |`,
    `| maximum-size bodies (${MAX_BODY / 1048576} MiB) | ${big.sent} sent, ${big.ok} answered; p50 ${pct(big.ms, 50).toFixed(0)} ms, max ${Math.max(0, ...big.ms).toFixed(0)} ms |`,
    `| tracker stall | ${stall.ms > 0 ? `${stall.tenant}'s tracker took no call for ${stall.ms / 1000} s from 8 s in; records queued ${faults.get("record.queued") ?? 0}, lost ${faults.get("record.lost") ?? 0}` : "none"} |`,
    `| unknown-key flood | ${flood.sent} requests from ${FLOOD} clients: ${floodLine} |`,
    `| accounted | ${total.accounted} answered rows (status 200) in the trackers' SQLite for ${total.billed} requests the simulator billed (${total.input} input tokens); ${mismatches.length === 0 ? "equal for every tenant, to the token" : `${mismatches.length} differences`}; all landed ${(settleMs / 1000).toFixed(1)} s after the last answer |`,
    `| workerd memory high-water (RSS) | ${highAll.toFixed(0)} MiB all workerd, ${highServing.toFixed(0)} MiB the one serving Stoker (start ${memory[0]?.all.toFixed(0)} / ${memory[0]?.serving.toFixed(0)} MiB) |`,
    `| faults and errors logged | ${faultLine} |`,
  ];
  const markdown = lines.join("\n");
  console.log(markdown);
  if (validErrors.length > 0) console.log(`valid-tenant errors:\n  ${validErrors.slice(0, 10).join("\n  ")}`);
  if (mismatches.length > 0)
    console.log(`accounting differences:\n  ${mismatches.slice(0, 10).join("\n  ")}`);

  check("0 valid-tenant errors", validErrors.length === 0, `${validErrors.length}`);
  check("every answered request accounted", total.accounted >= expected, `${total.accounted}/${expected}`);
  check("accounting equals the simulator's bill, per tenant, to the token", mismatches.length === 0);
  if (STALL_MS > 0) check("a tracker was stalled", stall.ms > 0);
  check("trackers and the directory were restarted", restarts.tracker > 0 && restarts.directory > 0);
  check("maximum-size bodies answered", big.sent > 0 && big.ok === big.sent, `${big.ok}/${big.sent}`);
  // 401 (unknown), 429 (too many failed lookups from one client), 503 (the directory cannot answer, for a key
  // this isolate never knew: by design, see docs/hardening.md "Tenant directory flood"); nothing else.
  check(
    "the flood got only 401, 429 or 503",
    [...flood.statuses.keys()].every((s) => s === 401 || s === 429 || s === 503),
    floodLine,
  );
  if (!values["no-write"] && !interrupted()) writeDocSection("docs/hardening.md", "chaos", markdown);
});

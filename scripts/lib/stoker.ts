// Stoker under `wrangler dev` for the end-to-end scripts: the dev tenant, the simulator as upstream, and the
// cron trigger of `--test-scheduled`.
import { createHash } from "node:crypto";
import { cpSync, existsSync, readdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { SIM_AWS_CREDENTIALS } from "../../sim/bedrock/auth.ts";
import { pingLeadMs } from "../../src/decide/keepalive-settings.ts";
import { NEXT_DEADLINE_SQL } from "../../src/tracker/keepalive-store.ts";
import { BIN, freePort, PATH, ROOT, type Service, startService, waitForHttp } from "./harness.ts";

/** The local dev tenant's key (managed mode: clients send it as their API key). */
export const DEV_TENANT_KEY = "sk-stoker-dev";

const STARTUP_TIMEOUT_MS = 90_000;
/** The Anthropic cache TTL the scripts' Stoker runs with (ANTHROPIC_CACHE_TTL_SECONDS unset). */
const DEFAULT_TTL_MS = 300_000;

export interface Stoker extends Service {
  url: string;
  persistTo: string;
  /** wrangler's inspector (DevTools protocol: `/json` lists the Worker's isolates). */
  inspectorUrl: string;
}

export interface StokerOptions {
  /** The simulator's base URL: both upstreams point at it and STOKER_SIMULATOR is set. */
  simUrl: string;
  /** Durable Object storage for this run (a scratch directory). */
  persistTo: string;
  /** Serve `/__scheduled` (wrangler's cron test endpoint). */
  testScheduled?: boolean;
  /** DEV_CLOCK=1: the shared clock moves with `POST /__dev/clock` (see `advanceClock`). */
  devClock?: boolean;
  /** More `--var NAME:VALUE`s. */
  vars?: Record<string, string>;
  /**
   * Where wrangler runs (default the repository). A `snapshotWorker()` directory keeps wrangler's file watcher
   * from reloading the Worker when someone edits src/ during a long run.
   */
  cwd?: string;
  /** wrangler's `--log-level` (its own lines, e.g. one per request at info; the Worker's warnings stay). */
  logLevel?: "debug" | "info" | "log" | "warn" | "error";
}

/**
 * A copy of what `wrangler dev` builds the Worker from (src/, wrangler.toml, package.json; node_modules
 * linked) in `dir`, taken now: edits to the repository after this do not reach a Worker served from it.
 */
export function snapshotWorker(dir: string): string {
  cpSync(join(ROOT, "src"), join(dir, "src"), { recursive: true });
  for (const f of ["wrangler.toml", "package.json", "tsconfig.json"]) cpSync(join(ROOT, f), join(dir, f));
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

/** Starts `wrangler dev` on free loopback ports with the dev tenant, and waits for /healthz. */
export async function startStoker(opts: StokerOptions): Promise<Stoker> {
  const port = await freePort();
  const inspectorPort = await freePort();
  const keyHash = createHash("sha256").update(DEV_TENANT_KEY).digest("hex");
  const vars: Record<string, string> = {
    ANTHROPIC_UPSTREAM_URL: `${opts.simUrl}/anthropic`,
    OPENAI_UPSTREAM_URL: `${opts.simUrl}/openai`,
    GEMINI_UPSTREAM_URL: `${opts.simUrl}/gemini`,
    BEDROCK_UPSTREAM_URL: `${opts.simUrl}/bedrock`,
    AWS_ACCESS_KEY_ID: Object.keys(SIM_AWS_CREDENTIALS)[0] ?? "",
    AWS_SECRET_ACCESS_KEY: Object.values(SIM_AWS_CREDENTIALS)[0] ?? "",
    STOKER_SIMULATOR: "1",
    TENANTS: JSON.stringify([{ id: "dev", key_sha256: keyHash }]),
    ...(opts.devClock ? { DEV_CLOCK: "1" } : {}),
    ...opts.vars,
  };
  const args = [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-ip",
    "127.0.0.1",
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    opts.persistTo,
    "--show-interactive-dev-session=false",
    // Neither the repo's .dev.vars nor a .env: a developer's real provider key must not end up in a test run.
    "--env-file",
    "/dev/null",
    ...(opts.testScheduled ? ["--test-scheduled"] : []),
    ...(opts.logLevel ? ["--log-level", opts.logLevel] : []),
    ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  const service = startService(join(BIN, "wrangler"), args, {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, PATH, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
  });
  const stoker: Stoker = {
    ...service,
    url: `http://127.0.0.1:${port}`,
    persistTo: opts.persistTo,
    inspectorUrl: `http://127.0.0.1:${inspectorPort}`,
  };
  await waitForHttp(stoker, "wrangler dev", `${stoker.url}/healthz`, STARTUP_TIMEOUT_MS, async (res) => {
    const body = res.ok ? ((await res.json().catch(() => null)) as { simulator?: unknown } | null) : null;
    if (!body) return false;
    if (body.simulator !== true) throw new Error(`Stoker's /healthz says simulator=${body.simulator}`);
    return true;
  });
  return stoker;
}

/**
 * Runs the Worker's cron handler as of `scheduledTimeMs` and returns its outcome ("ok" when it succeeded).
 * Miniflare's trigger route (`/cdn-cgi/local/scheduled`, on in every `wrangler dev`) honours `time` (integer
 * epoch ms); wrangler's `--test-scheduled` route `/__scheduled` passes only `cron` on, so it always runs now.
 */
export async function triggerCron(
  stoker: Stoker,
  scheduledTimeMs: number,
  cron = "* * * * *",
): Promise<string> {
  const q = new URLSearchParams({ cron, time: String(Math.round(scheduledTimeMs)), format: "json" });
  const res = await fetch(`${stoker.url}/cdn-cgi/local/scheduled?${q}`, {
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  try {
    return String((JSON.parse(text) as { outcome?: unknown }).outcome);
  } catch {
    return `HTTP ${res.status}: ${text.slice(0, 200)}`;
  }
}

/** What the minute cron reports (src/keepalive/scheduled.ts). */
export interface CronReport {
  tenants: number;
  pinged: number;
  costUsd: number;
  failures: number;
}

async function devClock<T>(stoker: Stoker, body?: unknown): Promise<T> {
  const res = await fetch(`${stoker.url}/__dev/clock`, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  if (!res.ok) throw new Error(`/__dev/clock: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** The shared clock of a Stoker started with `devClock` (epoch ms). */
export const clockNow = async (stoker: Stoker) => (await devClock<{ now_ms: number }>(stoker)).now_ms;

/**
 * Moves the shared clock of a Stoker started with `devClock` forward by `ms` (the Worker's, its Durable
 * Objects', the cron's and, through `x-sim-now`, the simulator's); the Worker then runs the minute cron at
 * the new time and returns its report.
 */
export const advanceClock = (stoker: Stoker, ms: number) =>
  devClock<{ now_ms: number; cron: CronReport }>(stoker, { advance_ms: Math.max(0, ms) });

/**
 * When the tenant's tracker next has a keepalive sweep to do, on the shared clock (its earliest live
 * deadline less the ping's lead, as `Tracker.#nextWake` reckons it), or null. Not its `alarm_at`: a record
 * leaves an alarm set earlier than that, which only re-arms. The alarm itself fires on the wall clock, which
 * does not move with the shared one: a script that moves the clock steps to this time, and the cron the
 * step runs does the alarm's sweep.
 */
export async function trackerWake(stoker: Stoker): Promise<number | null> {
  if (!existsSync(join(stoker.persistTo, "v3", "do", "stoker-Tracker"))) return null; // no tracker yet
  const rows = await queryObjects(stoker, "Tracker", NEXT_DEADLINE_SQL);
  const at = rows.map((r) => Number(r.t)).filter((x) => Number.isFinite(x) && x > 0);
  return at.length > 0 ? Math.min(...at) - pingLeadMs(DEFAULT_TTL_MS) : null;
}

/** The Worker's JSON log lines with `msg` (as wrangler prints them), oldest first. */
export function logEvents(stoker: Stoker, msg: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of stripVTControlCharacters(stoker.log()).split("\n")) {
    const start = line.indexOf("{");
    if (start < 0 || !line.includes(`"msg":"${msg}"`)) continue;
    try {
      out.push(JSON.parse(line.slice(start)) as Record<string, unknown>);
    } catch {
      // Not one JSON object.
    }
  }
  return out;
}

/**
 * Runs a read-only query on every stored instance of a Durable Object class, as `wrangler dev --persist-to`
 * keeps them (one SQLite file per object). For diagnostics only: the layout belongs to miniflare and the
 * tables to Stoker, neither is an API.
 */
export async function queryObjects(
  stoker: Stoker,
  className: string,
  sql: string,
): Promise<Record<string, unknown>[]> {
  // node:sqlite is experimental in Node 22 and says so on stderr once; the diagnostics need no warning.
  const emitWarning = process.emitWarning;
  process.emitWarning = () => undefined;
  const { DatabaseSync } = await import("node:sqlite").finally(() => {
    process.emitWarning = emitWarning;
  });
  const dir = join(stoker.persistTo, "v3", "do", `stoker-${className}`);
  const rows: Record<string, unknown>[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite")) {
    const db = new DatabaseSync(join(dir, file), { readOnly: true });
    try {
      rows.push(...(db.prepare(sql).all() as Record<string, unknown>[]));
    } finally {
      db.close();
    }
  }
  return rows;
}

// The provider simulator as a separate process (`node sim/main.ts`), and its control API (sim/README.md).
import { join } from "node:path";
import type { RecordedRequest } from "../../sim/namespace.ts";
import type { ProviderTotals } from "../../sim/stats.ts";
import { freePort, PATH, ROOT, type Service, startService, waitForHttp } from "./harness.ts";

export type { ProviderTotals, RecordedRequest };

const STARTUP_TIMEOUT_MS = 20_000;
const CONTROL_TIMEOUT_MS = 10_000;

export interface Sim extends Service {
  url: string;
}

export interface SimOptions {
  /** Milliseconds between streamed events. */
  streamDelayMs?: number;
  /** Requests the recorder keeps per namespace (the simulator's default is 1000). */
  maxRecorded?: number;
}

/**
 * Starts `node sim/main.ts` on a free loopback port (with this script's Node) and waits for its health.
 * With options, `scripts/lib/sim-main.ts` starts it instead (same simulator, more options).
 */
export async function startSim(opts: SimOptions = {}): Promise<Sim> {
  const port = await freePort();
  const extra = [
    ...(opts.streamDelayMs === undefined ? [] : ["--stream-delay-ms", String(opts.streamDelayMs)]),
    ...(opts.maxRecorded === undefined ? [] : ["--max-recorded", String(opts.maxRecorded)]),
  ];
  const entry = extra.length > 0 ? join(ROOT, "scripts", "lib", "sim-main.ts") : join(ROOT, "sim", "main.ts");
  const service = startService(
    process.execPath,
    [entry, "--port", String(port), "--host", "127.0.0.1", ...extra],
    { cwd: ROOT, env: { PATH, HOME: process.env.HOME, NODE_NO_WARNINGS: "1" } },
  );
  const sim: Sim = { ...service, url: `http://127.0.0.1:${port}` };
  await waitForHttp(sim, "the simulator", `${sim.url}/__sim/health`, STARTUP_TIMEOUT_MS);
  return sim;
}

async function control<T>(simUrl: string, method: "GET" | "POST", what: string, ns: string, body?: unknown) {
  const res = await fetch(`${simUrl}/__sim/${what}?ns=${encodeURIComponent(ns)}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(CONTROL_TIMEOUT_MS),
  });
  if (!res.ok) throw new Error(`${method} /__sim/${what}?ns=${ns}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** What the simulator received in a namespace, in arrival order. */
export const simRequests = async (simUrl: string, ns: string) =>
  (await control<{ requests: RecordedRequest[] }>(simUrl, "GET", "requests", ns)).requests;

/** What the simulator billed in a namespace. */
export const simStats = (simUrl: string, ns: string) =>
  control<{ anthropic: ProviderTotals; openai: ProviderTotals; total: ProviderTotals }>(
    simUrl,
    "GET",
    "stats",
    ns,
  );

/** A namespace's simulated time (epoch ms). */
export const simNow = async (simUrl: string, ns: string) =>
  (await control<{ now_ms: number }>(simUrl, "GET", "clock", ns)).now_ms;

/** Moves a namespace's clock forward to `targetMs` (never back); returns the new simulated time. */
export async function simAdvanceTo(simUrl: string, ns: string, targetMs: number): Promise<number> {
  const seconds = Math.max(0, (targetMs - (await simNow(simUrl, ns))) / 1000);
  return (await control<{ now_ms: number }>(simUrl, "POST", "clock", ns, { advance_seconds: seconds }))
    .now_ms;
}

type Json = Record<string, unknown>;

/** A recorded request's JSON body ({} if it is not a JSON object). */
export function bodyOf(r: RecordedRequest): Json {
  try {
    const v: unknown = JSON.parse(r.body);
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {};
  } catch {
    return {};
  }
}

// Property-based fuzzing of every route (ROUTES in routes.ts, plus unknown paths) with hostile bodies and
// headers (fuzz-cases.ts). For each case the oracle says:
// - Stoker never throws and never answers 5xx itself; its own answers are 4xx in the route's error shape
//   (healthz may say 200);
// - an answer forwarded from the upstream (marked `x-stoker-upstream`) may be anything the simulator said,
//   and is accounted exactly once, with that status;
// - a request Stoker rejects changes nothing: no tracker row written (SQLite total_changes() unchanged) and
//   nothing sent upstream (the simulator's recordings count only forwarded cases; for GPU routes, the GPU
//   backends hold no request with the case's mark, and a forwarded one holds at least one).
// CI runs a fixed-seed slice; `npm run fuzz` runs the same property with ≥ 10,000 cases (see
// scripts/fuzz.ts and vitest.fuzz.config.ts, which provide `fuzzRuns` and `fuzzSeed`).
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import worker from "../../src/index.ts";
import { namespace } from "../support/clients.ts";
import { backendRequestsWithHeader, gpuSim } from "../support/gpu.ts";
import type { ErrorShape } from "../support/routes.ts";
import { ADMIN_TOKEN, freshTenant } from "../support/tenants.ts";
import { directoryChanges, requestRows, trackerState } from "../support/tracker-state.ts";
import { caseArbitrary, type FuzzCase } from "./fuzz-cases.ts";
import type { Summary } from "./fuzz-summary.ts";

const CI_RUNS = 300;
const CI_SEED = 20_251_127;
const runs = inject("fuzzRuns") ?? CI_RUNS;
const seed = inject("fuzzSeed") ?? CI_SEED;
/** Node's default `--max-http-header-size`: the simulator's HTTP server refuses larger request heads. */
const NODE_MAX_HEADER_BYTES = 16 * 1024;
const headerBytes = (c: FuzzCase) => c.headers.reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
/** Every this many cases, the simulator namespace is checked (forwarded cases only) and reset. */
const SIM_WINDOW = 100;
/** Credentials that must never be served: missing, empty, unknown, duplicated, a tenant key as admin token… */
const BAD_AUTH = new Set(["missing", "empty", "unknown", "duplicate", "conflicting", "oversized"]);

const summary: Summary = {
  seed,
  runs,
  cases: 0,
  forwarded: 0,
  rejected: 0,
  served: 0,
  statuses: {},
  gpu: { cases: 0, forwarded: 0 },
  kinds: {},
  engineFaults: 0,
  upstreamBodyResets: 0,
  upstreamResets: 0,
  upstream5xx: [],
  failures: 0,
  failedCases: 0,
  failureKinds: {},
  examples: [],
};

const bump = (m: Record<string, number>, k: string, by = 1) => {
  m[k] = (m[k] ?? 0) + by;
};

function describeCase(c: FuzzCase): string {
  const size = c.body?.byteLength ?? 0;
  const head = c.body ? new TextDecoder().decode(c.body.subarray(0, 160)) : "";
  return `${c.method} ${c.path.slice(0, 80)} [${c.kinds.join(" ")}] body ${size} B: ${JSON.stringify(head)}`;
}

function fail(c: FuzzCase, what: string, detail = ""): void {
  summary.failures++;
  bump(summary.failureKinds, what);
  // A few examples of each kind of failure: one bug seen 300 times needs no 300 lines.
  if ((summary.failureKinds[what] ?? 0) <= 3 && summary.examples.length < 40)
    summary.examples.push(`${what}${detail ? ` (${detail})` : ""} <- ${describeCase(c)}`);
}

/** True when `text` is an error body in `shape` (for an unknown path, either provider's shape). */
function hasShape(text: string, shape: ErrorShape | "either"): boolean {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return false;
  }
  if (json === null || typeof json !== "object") return false;
  const o = json as { type?: unknown; error?: Record<string, unknown> };
  const anthropic =
    o.type === "error" && typeof o.error?.type === "string" && typeof o.error?.message === "string";
  const openai =
    o.error !== undefined &&
    o.error !== null &&
    Object.keys(o.error).sort().join(",") === "code,message,param,type" &&
    typeof o.error.message === "string";
  const gemini =
    o.error !== undefined &&
    o.error !== null &&
    Object.keys(o.error).sort().join(",") === "code,message,status" &&
    typeof o.error.message === "string";
  // Bedrock: `{"message"}` alone (the exception name is in x-amzn-ErrorType).
  const bedrock =
    Object.keys(o).join(",") === "message" && typeof (o as { message?: unknown }).message === "string";
  if (shape === "bedrock") return bedrock;
  if (shape === "anthropic") return anthropic;
  if (shape === "openai") return openai;
  if (shape === "gemini") return gemini;
  if (shape === "json") return anthropic || openai || gemini || (o.error !== undefined && o.error !== null);
  return anthropic || openai || gemini || bedrock;
}

let tenant: { id: string; key: string };
let ns: string;
let windowForwarded = 0;
const logged: { level: string; line: string }[] = [];

async function simCount(): Promise<number> {
  const res = await fetch(`${env.SIM_URL}/__sim/requests?ns=${encodeURIComponent(ns)}`);
  const json = (await res.json()) as { requests: unknown[]; dropped: number };
  return json.requests.length + json.dropped;
}

async function closeSimWindow(c: FuzzCase | null): Promise<void> {
  const seen = await simCount();
  if (seen !== windowForwarded) {
    summary.failures++;
    bump(summary.failureKinds, "upstream saw a request Stoker did not forward (or missed one)");
    if (summary.examples.length < 40)
      summary.examples.push(
        `simulator recorded ${seen} requests for ${windowForwarded} forwarded cases${c ? ` (window ending ${describeCase(c)})` : ""}`,
      );
  }
  await fetch(`${env.SIM_URL}/__sim/reset?ns=${encodeURIComponent(ns)}`, { method: "POST" });
  windowForwarded = 0;
}

/** The header by which a GPU case's requests are found in the GPU backends' recordings. */
const GPU_MARK = "x-fuzz-case";

/** How many requests the GPU backends received carrying this case's mark. */
async function gpuSeen(mark: string): Promise<number> {
  const seen = await Promise.all(gpuSim().backends.map((u) => backendRequestsWithHeader(u, GPU_MARK, mark)));
  return seen.reduce((n, r) => n + r.length, 0);
}

async function runCase(c: FuzzCase): Promise<void> {
  summary.cases++;
  // GPU routes: the upstream is the test pool's GPU backends, not the provider simulator's namespace.
  const gpuMark = c.route?.upstream === "gpu" ? crypto.randomUUID() : null;
  if (gpuMark) summary.gpu.cases++;
  for (const k of c.kinds) bump(summary.kinds, k.split(":")[0] === "body" ? k : (k.split(":")[0] as string));
  let req: Request;
  try {
    const headers = new Headers();
    for (const [k, v] of c.headers) headers.append(k, v);
    if (gpuMark) headers.set(GPU_MARK, gpuMark);
    req = new Request(`http://stoker.test${c.path}`, { method: c.method, headers, body: c.body });
  } catch {
    bump(summary.statuses, "not constructible");
    return;
  }
  const before = await trackerState(tenant.id);
  const dirBefore = await directoryChanges();
  const logsBefore = logged.length;
  const ctx = createExecutionContext();
  let res: Response;
  try {
    res = await worker.fetch(req, env, ctx);
  } catch (err) {
    fail(c, "Stoker threw", err instanceof Error ? `${err.name}: ${err.message.slice(0, 200)}` : String(err));
    await waitOnExecutionContext(ctx).catch(() => undefined);
    return;
  }
  const forwarded = res.headers.get("x-stoker-upstream") !== null;
  let text = "";
  try {
    text = await res.text();
  } catch (err) {
    // Node's HTTP server answers headers over its 16 KiB limit with a bare 431 and resets the socket while
    // the request body is unread; Stoker passes the upstream's error body through as it comes, so the
    // client sees that reset. The upstream's own answer, not Stoker's: counted, and accounting still checked.
    if (forwarded && !res.ok) summary.upstreamBodyResets++;
    else fail(c, "the answer's body broke", err instanceof Error ? err.message.slice(0, 200) : String(err));
  }
  await waitOnExecutionContext(ctx);
  const newLogs = logged.slice(logsBefore);
  summary.engineFaults += newLogs.filter((l) => l.line.includes('"engine.fault"')).length;
  for (const l of newLogs) {
    if (l.line.includes('"internal_error"') || l.line.includes('"config_error"'))
      fail(c, "internal error logged");
    if (l.line.includes('"tracker.fault"') && l.line.includes('"op":"record"'))
      fail(c, "record rejected by the tracker (request not accounted)", l.line.slice(0, 200));
  }

  const requestId = res.headers.get("x-stoker-request-id");
  bump(summary.statuses, `${res.status} ${forwarded ? "upstream" : "stoker"}`);
  if (!requestId) fail(c, "no x-stoker-request-id");

  if (forwarded) {
    summary.forwarded++;
    // Node's HTTP parser answers oversized headers with a 431 before the simulator sees the request.
    if (gpuMark) {
      summary.gpu.forwarded++;
      if (res.status !== 431 && (await gpuSeen(gpuMark)) === 0)
        fail(c, "a forwarded GPU request no backend received", `status ${res.status}`);
    } else if (res.status !== 431) windowForwarded++;
    if (res.status >= 500 && summary.upstream5xx.length < 10) summary.upstream5xx.push(describeCase(c));
    if (!c.route?.proxied) fail(c, "a non-proxied route answered from upstream");
    const rows = requestId ? await requestRows(tenant.id, [requestId]) : [];
    const after = await trackerState(tenant.id);
    if (rows.length !== 1) fail(c, "forwarded request not accounted", `status ${res.status}`);
    else if (rows[0]?.status !== res.status)
      fail(c, "accounted status differs from the answer", `${rows[0]?.status} vs ${res.status}`);
    if (after.requests !== before.requests + 1)
      fail(c, "accounting rows grew by other than 1", `${after.requests - before.requests}`);
    const sse = (res.headers.get("content-type") ?? "").startsWith("text/event-stream");
    if (res.ok && sse && /stream_interrupted|The upstream stream/.test(text))
      fail(c, "an intact upstream stream reached the client with an error event");
    if (res.ok && rows[0] && rows[0].result !== "ok") fail(c, "2xx accounted as not ok", rows[0].result);
    if (res.ok && BAD_AUTH.has(c.auth)) fail(c, `forwarded without valid credentials (${c.auth})`);
  } else {
    const after = await trackerState(tenant.id);
    const dirAfter = await directoryChanges();
    const changed =
      after.changes !== before.changes || after.requests !== before.requests || dirAfter !== dirBefore;
    const what = `${after.changes - before.changes} tracker changes, ${dirAfter - dirBefore} directory changes`;
    // Node's HTTP server (the simulator) resets the connection on headers over its 16 KiB limit, at times
    // before workerd has read its 431: then the upstream could not be reached, and Stoker's 502 is right. It
    // is accounted once (as unreachable); the simulator never saw the request.
    const refusedByNode =
      res.status === 502 && c.route?.proxied === true && headerBytes(c) > NODE_MAX_HEADER_BYTES;
    if (refusedByNode) {
      summary.upstreamResets++;
      const rows = requestId ? await requestRows(tenant.id, [requestId]) : [];
      // A GPU route reads a backend's error body whole (readErrors): Node's 431 and its reset arrive as a body
      // broken mid-way, a 502 accounted as the upstream's error.
      const allowed = gpuMark ? ["unreachable", "upstream_error"] : ["unreachable"];
      if (rows.length !== 1 || !allowed.includes(String(rows[0]?.result)))
        fail(c, "an unreachable upstream not accounted once", JSON.stringify(rows));
      if (!hasShape(text, c.route?.shape ?? "either"))
        fail(c, "a 502 not in the provider's shape", text.slice(0, 200));
    } else if (res.status >= 500) fail(c, `Stoker answered ${res.status}`, text.slice(0, 200));
    else if (res.status >= 400) {
      summary.rejected++;
      if (changed) fail(c, "a request Stoker rejected changed stored state", what);
      if (gpuMark && (await gpuSeen(gpuMark)) > 0) fail(c, "a request Stoker rejected reached a GPU backend");
      const shape = c.route === null ? "either" : c.route.shape;
      const isHead = c.method === "HEAD";
      if (!isHead && !hasShape(text, shape))
        fail(c, `a ${res.status} not in the ${shape} error shape`, text.slice(0, 200));
      if (!isHead && !(res.headers.get("content-type") ?? "").includes("application/json"))
        fail(c, "an error without a JSON content type");
    } else {
      summary.served++;
      if (c.route?.proxied) fail(c, `Stoker answered ${res.status} itself on a proxied route`);
      if (changed && !(c.route?.writes && c.method !== "GET"))
        fail(c, "a read (or an unknown route) changed stored state", what);
      if (c.route && c.route.auth !== "none" && BAD_AUTH.has(c.auth))
        fail(c, `served ${res.status} without valid credentials (${c.auth})`);
    }
  }
  if (summary.cases % SIM_WINDOW === 0) await closeSimWindow(c);
}

describe("fuzz: every route, hostile bodies and headers", () => {
  beforeAll(async () => {
    tenant = freshTenant();
    ns = `fuzz-${namespace()}`;
    const keep =
      (level: string) =>
      (...args: unknown[]) => {
        logged.push({ level, line: args.map(String).join(" ") });
      };
    vi.spyOn(console, "warn").mockImplementation(keep("warn"));
    vi.spyOn(console, "error").mockImplementation(keep("error"));
    // Creates the tenant's tracker and the directory (their migrations are writes) before the first case.
    await trackerState(tenant.id);
    await directoryChanges();
  });

  afterAll(() => {
    vi.restoreAllMocks();
  });

  it(
    `${runs} generated cases (seed ${seed}): only clear 4xx from Stoker, upstream answers accounted once, rejections change nothing`,
    async () => {
      await fc.assert(
        fc.asyncProperty(
          caseArbitrary({ tenantKey: tenant.key, adminToken: ADMIN_TOKEN, namespace: ns }),
          async (c) => {
            const before = summary.failures;
            await runCase(c);
            if (summary.failures > before) summary.failedCases++;
            // Failures are collected (to count and report them all), not thrown: no shrinking, every case runs.
            return true;
          },
        ),
        { seed, numRuns: runs },
      );
      await closeSimWindow(null);
      vi.restoreAllMocks();
      console.log(`FUZZ_SUMMARY ${JSON.stringify(summary)}`);
      expect(summary.examples, `${summary.failures} failures`).toEqual([]);
      expect(summary.cases).toBe(runs);
    },
    60_000 + runs * 200,
  );
});

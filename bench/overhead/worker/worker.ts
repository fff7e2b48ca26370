// The benchmark's reference worker, run by wrangler dev exactly like Stoker:
// - /proxy/*: a null proxy (forward to the simulator, stream the answer back, nothing else), so that
//   "through a Worker in wrangler dev" can be told apart from "through Stoker";
// - /read/*: a reading proxy, the least a proxy does that reads what it forwards and what it was charged
//   (served by an instance of its own, so that its CPU is its own), so that the price of reading the body
//   and the answer at all can be told apart from what Stoker does with them;
// - /t/*: Stoker's own Tracker class behind thin routes, so that the lookup and record RPCs can be timed
//   from Node against a /t/noop route of the same shape (workerd's clocks tick in whole milliseconds).
import { KeepaliveRegistry } from "../../../src/keepalive/registry.ts";
import { Tracker } from "../../../src/tracker/tracker.ts";
import type { RecordRequest } from "../../../src/tracker/types.ts";

export { KeepaliveRegistry };

/** Stoker's Tracker unchanged, plus one read-only method for the storage figures. */
export class BenchTracker extends Tracker {
  async stats(): Promise<{
    databaseSize: number;
    rows: Record<string, number>;
    bytes: Record<string, number> | null;
  }> {
    const sql = this.ctx.storage.sql;
    const tables = sql
      .exec<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
      )
      .toArray()
      .map((r) => r.name);
    const rows: Record<string, number> = {};
    for (const t of tables) rows[t] = sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM "${t}"`).one().n;
    let bytes: Record<string, number> | null = null;
    try {
      // dbstat gives bytes per table and index where the runtime allows it; null where it does not.
      bytes = {};
      for (const r of sql.exec<{ name: string; size: number }>(
        "SELECT name, SUM(pgsize) AS size FROM dbstat GROUP BY name",
      )) {
        bytes[r.name] = r.size;
      }
    } catch {
      bytes = null;
    }
    return { databaseSize: sql.databaseSize, rows, bytes };
  }
}

interface BenchEnv {
  SIM_URL: string;
  TRACKER: DurableObjectNamespace<BenchTracker>;
}

const json = (v: unknown) =>
  new Response(JSON.stringify(v), { headers: { "content-type": "application/json" } });
const tracker = (env: BenchEnv, tenant: string) => env.TRACKER.get(env.TRACKER.idFromName(tenant));
const DROP = new Set(["host", "connection", "content-length", "accept-encoding", "transfer-encoding"]);

function forwarded(req: Request): Headers {
  const headers = new Headers();
  for (const [k, v] of req.headers) if (!DROP.has(k) && !k.startsWith("cf-")) headers.set(k, v);
  return headers;
}

async function nullProxy(req: Request, env: BenchEnv, path: string): Promise<Response> {
  const headers = forwarded(req);
  const upstream = await fetch(`${env.SIM_URL}${path}`, { method: req.method, headers, body: req.body });
  return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
}

/** The usage an answer reports (JSON: the body's; a stream: an event's, Anthropic's first in its message), or null. */
function usageOf(text: string): unknown {
  try {
    const v = JSON.parse(text) as { usage?: unknown; message?: { usage?: unknown } };
    return v.usage ?? v.message?.usage ?? null;
  } catch {
    return null;
  }
}

/** The last answer's usage, kept as a gateway keeps it for its accounting. */
const accounted: { usage: unknown } = { usage: null };

/** Passes a stream's bytes on as they come and reads its events' usage from them in JavaScript. */
function usageReader(): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  let rest = "";
  const scan = (text: string) => {
    for (const line of text.split("\n"))
      if (line.startsWith("data:") && line.includes('"usage"'))
        accounted.usage = usageOf(line.slice(5)) ?? accounted.usage;
  };
  return new TransformStream({
    transform(chunk, out) {
      out.enqueue(chunk);
      const text = rest + decoder.decode(chunk, { stream: true });
      const cut = text.lastIndexOf("\n") + 1;
      scan(text.slice(0, cut));
      rest = text.slice(cut);
    },
    flush() {
      scan(rest + decoder.decode());
    },
  });
}

/**
 * The reading proxy: the request's bytes read, decoded and parsed (a gateway routes and accounts by its
 * model and stream flag) and sent on as they came; a JSON answer read whole and parsed for its usage, a
 * streamed one passed on as it comes with its events' usage read in JavaScript. Nothing else: no
 * canonicalization, plan, render, record or state.
 */
async function readingProxy(req: Request, env: BenchEnv, path: string): Promise<Response> {
  const headers = forwarded(req);
  const bytes = await req.arrayBuffer();
  const { stream } = JSON.parse(new TextDecoder().decode(bytes)) as { stream?: unknown };
  const upstream = await fetch(`${env.SIM_URL}${path}`, { method: req.method, headers, body: bytes });
  const init = { status: upstream.status, headers: upstream.headers };
  if (stream === true && upstream.body) return new Response(upstream.body.pipeThrough(usageReader()), init);
  const answer = await upstream.arrayBuffer();
  accounted.usage = usageOf(new TextDecoder().decode(answer));
  return new Response(answer, init);
}

export default {
  async fetch(req, env): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname;
    if (path === "/healthz") return json({ ok: true });
    if (path.startsWith("/proxy/")) return nullProxy(req, env, path.slice("/proxy".length) + url.search);
    // A second copy of the null proxy: the difference between the two is the measurement's noise floor.
    if (path.startsWith("/proxy2/")) return nullProxy(req, env, path.slice("/proxy2".length) + url.search);
    if (path.startsWith("/read/")) return readingProxy(req, env, path.slice("/read".length) + url.search);
    if (path === "/t/noop") {
      await req.json();
      return json({});
    }
    if (path === "/t/lookup") {
      const { tenant, hashes, now } = (await req.json()) as { tenant: string; hashes: string[]; now: number };
      return json(await tracker(env, tenant).lookup(hashes, now));
    }
    if (path === "/t/record") {
      const r = (await req.json()) as RecordRequest;
      return json(await tracker(env, r.tenantId).record(r));
    }
    if (path === "/t/records") {
      const rs = (await req.json()) as RecordRequest[];
      return json(await tracker(env, rs[0]?.tenantId ?? "").recordMany(rs));
    }
    if (path === "/t/stats") return json(await tracker(env, url.searchParams.get("tenant") ?? "").stats());
    return new Response("not found", { status: 404 });
  },
} satisfies ExportedHandler<BenchEnv>;

// Where Stoker's isolate spends its time: V8's sampling profiler through workerd's inspector (Miniflare's
// `inspectorPort`, or wrangler dev's inspector proxy), in a phase of its own (the profiler slows what it
// samples, so the latency figures are taken without it).
// Samples are attributed to the nearest Stoker source file on the stack (from the bundle's source map),
// so a native call (a SQLite exec, a stream read) counts for the code that made it.
import { readFileSync, writeFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { basename } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export const CATEGORIES = [
  "engine",
  "tracker lookup",
  "tracker record + keepalive capture",
  "body read + JSON.parse",
  "SSE pipe + usage parser",
  "edge: Hono, auth, headers, forward",
  "runtime (no Stoker frame on the stack)",
] as const;
export type Category = (typeof CATEGORIES)[number];

const LOOKUP_FUNCTIONS = new Set([
  "planLookup",
  "refresh",
  "cachedAnswer",
  "heldAnswer",
  "lookup",
  "lookupPrefixes",
  "toState",
  "validateLookup",
]);

function categorize(source: string, fn: string): Category | null {
  if (!source.includes("src/") && !source.includes("node_modules/")) return null;
  if (/src\/(canonicalize|prefix|plan|upstream\/body)\/|src\/edge\/prepare\.ts/.test(source)) return "engine";
  if (/src\/(tracker|keepalive|economics)\/|src\/edge\/(record|capture)\.ts/.test(source)) {
    return LOOKUP_FUNCTIONS.has(fn) ? "tracker lookup" : "tracker record + keepalive capture";
  }
  if (source.includes("src/edge/body.ts")) return "body read + JSON.parse";
  if (
    /src\/upstream\/(sse|watchers|usage|openai-stream-usage|json-relay)\.ts|eventsource-parser/.test(source)
  ) {
    return "SSE pipe + usage parser";
  }
  return "edge: Hono, auth, headers, forward";
}

const shortSource = (source: string) => source.replace(/^.*?\/(src|node_modules)\//, "$1/");

/**
 * A DevTools protocol session over workerd's inspector or wrangler dev's inspector proxy. The proxy answers some commands only
 * with an echo of the command (they still reach the runtime), so a command counts as sent once its id
 * comes back in any form; the profile itself is awaited as the answer that carries it.
 */
export class Session {
  readonly #ws: WebSocket;
  #id = 0;
  readonly #waiting = new Map<number, (m: Message) => void>();
  #onProfile: ((p: Profile) => void) | null = null;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.addEventListener("message", (e: MessageEvent) => {
      const m = JSON.parse(String(e.data)) as Message;
      const profile = (m.result as { profile?: Profile } | undefined)?.profile;
      if (profile && this.#onProfile) this.#onProfile(profile);
      if (m.id === undefined) return;
      this.#waiting.get(m.id)?.(m);
      this.#waiting.delete(m.id);
    });
  }

  static async open(port: number): Promise<Session> {
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as {
      id?: string;
      webSocketDebuggerUrl?: string;
    }[];
    // workerd's own inspector (Miniflare) lists every service: the user's worker is `core:user:<name>`.
    // wrangler dev's inspector proxy lists the user's worker only.
    const url = (
      targets.find((t) => t.id?.startsWith("core:user:")) ?? targets.find((t) => t.webSocketDebuggerUrl)
    )?.webSocketDebuggerUrl;
    if (!url) throw new Error(`no inspector target on port ${port}`);
    // The proxy accepts DevTools' own origin only.
    const init = { headers: { Origin: "https://devtools.devprod.cloudflare.dev" } };
    const ws = new WebSocket(url, init as unknown as string[]);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve());
      ws.addEventListener("error", () => reject(new Error(`inspector websocket ${url} failed`)));
      setTimeout(() => reject(new Error("inspector websocket: no answer")), 5000).unref();
    });
    return new Session(ws);
  }

  /** Sends a command; resolves when its id comes back (answer or echo), rejects on an error answer. */
  async send(method: string, params: Record<string, unknown> = {}): Promise<void> {
    await this.call(method, params);
  }

  /** Sends a command and resolves with its result. */
  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.#id;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`inspector: ${method} timed out`)), 10_000);
      this.#waiting.set(id, (m) => {
        clearTimeout(timer);
        if (m.error) reject(new Error(`${method}: ${m.error.message}`));
        else resolve(m.result);
      });
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Stops the profiler and waits for the profile. */
  stop(): Promise<Profile> {
    return new Promise<Profile>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("inspector: no profile within 30 s")), 30_000);
      this.#onProfile = (p) => {
        clearTimeout(timer);
        resolve(p);
      };
      this.send("Profiler.stop").catch(reject);
    });
  }

  close(): void {
    this.#ws.close();
  }
}

interface Message {
  id?: number;
  result?: unknown;
  error?: { message: string };
}

export interface Breakdown {
  /** Sampled milliseconds per request by category, idle excluded. */
  perRequest: Record<Category, number>;
  /** The Stoker functions with the most samples (their own and the natives they called), ms per request. */
  top: { fn: string; ms: number }[];
  busyMsPerRequest: number;
  idleMsPerRequest: number;
  spanMs: number;
  requests: number;
  intervalUs: number;
}

/** Profiles Stoker's isolate while `load` runs `requests` requests. */
export async function profileStoker(
  inspectorPort: number,
  sourceMapPath: string,
  requests: number,
  load: () => Promise<void>,
  intervalUs = 200,
  topN = 8,
  rawOut?: string,
): Promise<Breakdown> {
  const session = await Session.open(inspectorPort);
  try {
    await session.send("Profiler.enable");
    await session.send("Profiler.setSamplingInterval", { interval: intervalUs });
    await session.send("Profiler.start");
    await load();
    await sleep(200); // the last record lands after its response
    const profile = await session.stop();
    if (rawOut) writeFileSync(rawOut, JSON.stringify(profile));
    const map = new SourceMap(JSON.parse(readFileSync(sourceMapPath, "utf8")));
    return summarizeProfile(profile, map, basename(sourceMapPath, ".map"), requests, intervalUs, topN);
  } finally {
    session.close();
  }
}

function summarizeProfile(
  p: Profile,
  map: SourceMap,
  bundleName: string,
  requests: number,
  intervalUs: number,
  topN: number,
): Breakdown {
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const own = new Map<number, { cat: Category | "idle"; fn: string } | null>();
  for (const n of p.nodes) {
    const cf = n.callFrame;
    if (cf.functionName === "(idle)") own.set(n.id, { cat: "idle", fn: "(idle)" });
    // Only frames of Stoker's bundle go through its source map; the runtime's own modules (node-internal:*)
    // have lines of their own and are walked past to their Stoker caller.
    else if (cf.url.endsWith(bundleName) && cf.lineNumber >= 0) {
      const e = map.findEntry(cf.lineNumber, cf.columnNumber) as { originalSource?: string };
      const source = e.originalSource ?? cf.url;
      const cat = categorize(source, cf.functionName);
      own.set(n.id, cat ? { cat, fn: `${cf.functionName || "(anonymous)"} (${shortSource(source)})` } : null);
    } else own.set(n.id, null);
  }
  const runtime = { cat: "runtime (no Stoker frame on the stack)" as const, fn: "(runtime)" };
  const resolved = new Map<number, { cat: Category | "idle"; fn: string }>();
  /** The nearest Stoker frame on the stack of node `id` (itself included). */
  const frameOf = (id: number): { cat: Category | "idle"; fn: string } => {
    const hit = resolved.get(id);
    if (hit) return hit;
    let cur: number | undefined = id;
    let found: { cat: Category | "idle"; fn: string } = runtime;
    while (cur !== undefined) {
      const c = own.get(cur);
      if (c) {
        found = c;
        break;
      }
      cur = parent.get(cur);
    }
    resolved.set(id, found);
    return found;
  };
  const byFn = new Map<string, number>();
  const totals = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  let idle = 0;
  p.samples.forEach((id, i) => {
    const us = p.timeDeltas[i] ?? 0;
    if (!byId.has(id)) return;
    const { cat, fn } = frameOf(id);
    if (cat === "idle") idle += us;
    else {
      totals[cat] += us;
      byFn.set(fn, (byFn.get(fn) ?? 0) + us);
    }
  });
  const perRequest = Object.fromEntries(CATEGORIES.map((c) => [c, totals[c] / 1000 / requests])) as Record<
    Category,
    number
  >;
  const top = [...byFn]
    .sort((a, b) => b[1] - a[1])
    .slice(0, topN)
    .map(([fn, us]) => ({ fn, ms: us / 1000 / requests }));
  return {
    perRequest,
    top,
    busyMsPerRequest: Object.values(perRequest).reduce((a, b) => a + b, 0),
    idleMsPerRequest: idle / 1000 / requests,
    spanMs: (p.endTime - p.startTime) / 1000,
    requests,
    intervalUs,
  };
}

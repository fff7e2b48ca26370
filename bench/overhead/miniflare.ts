// Stoker and the reference worker in workerd through Miniflare's API, without wrangler dev's proxy worker,
// its second workerd process and its inspector: the runtime closest to a deploy that runs locally. Each
// worker is reached on a socket of its own (Miniflare's `unsafeDirectSockets`), not through Miniflare's
// entry worker.
// Each worker gets its own Miniflare instance in a child Node process (miniflare-child.ts), in a process
// group of its own, so that /proc's CPU figures stay per worker and stopping it stops its workerd too.
// Bindings, compatibility date and flags and the Durable Object classes (SQLite-backed, from the
// migrations) come from the worker's wrangler.toml, read by wrangler's own config reader, as wrangler dev
// would; the code is the bundle `wrangler deploy --dry-run` made (the same bytes the wrangler arm serves).
import { readdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { gcTraceEnv } from "./gc.ts";
import { freePort, start, waitHealthy } from "./procs.ts";
import { ENV, ROOT, type Served } from "./wrangler.ts";

const CHILD = join(import.meta.dirname, "miniflare-child.ts");

/** What miniflare-child.ts starts: Miniflare v4-style options, JSON only. */
export interface ChildSpec {
  options: Record<string, unknown>;
}

/**
 * The bundle in `dirname(entry)` as Miniflare modules: the entry as an ES module, every other file but
 * the source map as text (the dashboard's browser script and uPlot, named by content hash).
 */
function modules(entry: string): { type: "ESModule" | "Text"; path: string }[] {
  const dir = dirname(entry);
  const others = readdirSync(dir).filter(
    (f) => f !== basename(entry) && !f.endsWith(".map") && !f.endsWith(".toml") && f !== "README.md",
  );
  return [
    { type: "ESModule", path: entry },
    ...others.map((f) => ({ type: "Text" as const, path: join(dir, f) })),
  ];
}

/**
 * Serves `entry` (a bundle of the worker of `config`) with Miniflare on a free loopback port. `vars` are
 * added to the config's; `inspectorPort` 0 means no inspector (wrangler dev always runs one).
 */
export async function serveMiniflare(
  name: string,
  entry: string,
  config: string,
  vars: Record<string, string>,
  persistTo: string,
  inspectorPort = 0,
  /** Miniflare options over the config's (e.g. a binding served by another process, `trackerApart`). */
  extra: Record<string, unknown> = {},
): Promise<Served> {
  const { workerOptions } = unstable_getMiniflareWorkerOptions(config);
  const port = await freePort();
  const options = {
    ...workerOptions,
    name: name.replace(/[^a-z0-9-]/gi, "-"),
    rootPath: dirname(entry),
    modulesRoot: dirname(entry),
    modules: modules(entry),
    // The config's module rules are for source files; the bundle's modules are listed above.
    modulesRules: undefined,
    bindings: { ...(workerOptions.bindings as Record<string, unknown> | undefined), ...vars },
    // Requests go to a socket of the worker's own (workerd's socket → the worker), not through Miniflare's
    // entry worker (a second isolate in the same workerd that adds the `cf` object and pretty errors);
    // Miniflare's entry socket listens on an OS-chosen port and is not used.
    host: "127.0.0.1",
    port: 0,
    unsafeDirectSockets: [{ host: "127.0.0.1", port }],
    ...(inspectorPort > 0 ? { inspectorPort } : {}),
    resourcePersistencePath: persistTo,
    logRequests: false,
    // Placeholder `cf` values: nothing fetched from Cloudflare (the socket bound to the Worker sends none).
    cf: false,
    ...extra,
  };
  const spec: ChildSpec = { options };
  const specPath = `${persistTo}.miniflare.json`;
  writeFileSync(specPath, JSON.stringify(spec));
  // Every collection of the isolates' heaps logged, so that a group's GC pauses can be counted (gc.ts).
  const child = start(name, [CHILD, specPath], { ...ENV, ...gcTraceEnv() });
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(child, `${url}/healthz`);
  return { child, url };
}

/**
 * The reference worker (bench/overhead/worker: the null proxy and the reading proxy), bundled as `entry`, in
 * front of the simulator at `simUrl`.
 */
export function serveReference(
  entry: string,
  simUrl: string,
  persistTo: string,
  name = "reference worker",
): Promise<Served> {
  return serveMiniflare(
    name,
    entry,
    join(ROOT, "bench/overhead/worker/wrangler.toml"),
    // The reference worker hosts the Tracker too: local development with the simulator, like Stoker.
    { SIM_URL: simUrl, STOKER_SIMULATOR: "1" },
    persistTo,
  );
}

/** The Miniflare name of the process that serves `serveTrackerApart`'s trackers (the dev registry's key). */
const TRACKERS = "stoker-trackers";

/**
 * Serves Stoker as a deploy runs it, as far as one machine can: its tenants' trackers in a workerd process
 * of their own (a second Miniflare instance of the same bundle, reached through Miniflare's dev registry, as
 * `wrangler dev` reaches a Durable Object of another running worker), and its Cache API a no-op (in a
 * deploy the location's cache; under Miniflare a worker with its own SQLite store in Stoker's process).
 * Stoker's process then runs the request path, the record's RPC and the cache write's hand-off, not the
 * tracker's work or the cache's; it also runs the dev registry's proxy that carries the RPC to the other
 * process, which a deploy has not (its CPU and memory count as Stoker's here). Both instances are stopped by
 * `stopAll`.
 */
export async function serveTrackerApart(
  name: string,
  entry: string,
  config: string,
  vars: Record<string, string>,
  persistTo: string,
  inspectorPort = 0,
): Promise<Served> {
  const registry = `${persistTo}.registry`;
  const trackers = await serveMiniflare(TRACKERS, entry, config, vars, `${persistTo}.trackers`, 0, {
    unsafeDevRegistryPath: registry,
  });
  const { workerOptions } = unstable_getMiniflareWorkerOptions(config);
  const durableObjects = {
    ...(workerOptions.durableObjects as Record<string, unknown> | undefined),
    TRACKER: { className: "Tracker", scriptName: TRACKERS, useSQLite: true },
  };
  const served = await serveMiniflare(name, entry, config, vars, persistTo, inspectorPort, {
    unsafeDevRegistryPath: registry,
    durableObjects,
    cacheAPI: false,
  });
  return { ...served, helpers: [trackers.child] };
}

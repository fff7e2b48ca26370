// Stoker and the reference worker under `wrangler dev`, each from a bundle made once at the start
// (`wrangler deploy --dry-run`, the bytes a deploy would upload): wrangler dev watches its sources, and
// other people edit src/ while this runs, so serving a snapshot keeps reloads out of the figures.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { type Child, freePort, runToEnd, start, waitHealthy } from "./procs.ts";

export const ROOT = resolve(import.meta.dirname, "../..");
const WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
/** No telemetry, no fetch of a `cf` object from Cloudflare, plain output: for wrangler and Miniflare alike. */
export const ENV = { CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };

/** Bundles the worker of `config` into `outdir` and returns the entry file. */
export async function bundle(config: string, outdir: string): Promise<string> {
  const { code, output } = await runToEnd(
    `bundle ${config}`,
    [WRANGLER, "deploy", "--dry-run", "--outdir", outdir, "-c", config],
    ENV,
    120_000,
  );
  if (code !== 0) throw new Error(`bundling ${config} failed:\n${output.slice(-3000)}`);
  // The entry is the .js with a source map beside it: text modules (the dashboard's browser scripts) are
  // copied into the same directory, in no particular order.
  const files = readdirSync(outdir);
  const entry =
    files.find((f) => f === "index.js") ?? files.find((f) => f.endsWith(".js") && files.includes(`${f}.map`));
  if (!entry) throw new Error(`no .js in ${outdir}`);
  return join(outdir, entry);
}

export interface Served {
  child: Child;
  url: string;
  /** Processes that serve the worker's bindings apart from it (miniflare.ts `serveTrackerApart`'s trackers). */
  helpers?: Child[];
}

/** `wrangler dev` on a free loopback port, serving `entry` as is, with bindings from `config`. */
export async function serve(
  name: string,
  entry: string,
  config: string,
  vars: Record<string, string>,
  persistTo: string,
  inspectorPort = 0,
): Promise<Served> {
  const port = await freePort();
  const args = [
    WRANGLER,
    "dev",
    "--no-bundle",
    entry,
    "-c",
    servingConfig(entry, config),
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    persistTo,
    "--log-level",
    "warn",
    "--show-interactive-dev-session=false",
    ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  const child = start(name, args, ENV);
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(child, `${url}/healthz`);
  return { child, url };
}

/**
 * The config wrangler dev serves a bundle with. The bundle's text modules (the dashboard's browser script,
 * uPlot) carry content hashes in their names, which the source config's `[[rules]]` globs do not match, so
 * a copy of the config beside the bundle lists them by name instead; the bindings and migrations are kept.
 */
function servingConfig(entry: string, config: string): string {
  const dir = dirname(entry);
  const modules = readdirSync(dir).filter(
    (f) => f !== basename(entry) && !f.endsWith(".map") && !f.endsWith(".toml") && f !== "README.md",
  );
  if (modules.length === 0) return config;
  const kept: string[] = [];
  let inRules = false;
  for (const line of readFileSync(config, "utf8").split("\n")) {
    const header = /^\s*\[/.test(line);
    if (header) inRules = /^\s*\[\[rules\]\]/.test(line);
    if (!inRules && !/^\s*main\s*=/.test(line)) kept.push(line);
  }
  kept.push("", "[[rules]]", 'type = "Text"', `globs = ${JSON.stringify(modules.map((f) => `**/${f}`))}`);
  const out = join(dir, "wrangler.serve.toml");
  writeFileSync(out, `${kept.join("\n")}\n`);
  return out;
}

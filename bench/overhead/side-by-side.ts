// Two builds of Stoker served side by side in one run, their requests interleaved one by one with the
// direct and null-proxy arms (latency.ts): what ab.ts and stages.ts measure with.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSimulator } from "../../sim/server.ts";
import { arg, warmupArg } from "./args.ts";
import { benchTenant } from "./bench-tenant.ts";
import { prose } from "./bodies.ts";
import { GC_TRACED } from "./gc.ts";
import { type Group, type GroupResult, runGroup, type Targets } from "./latency.ts";
import { serveMiniflare, serveReference, serveTrackerApart } from "./miniflare.ts";
import { stopAll } from "./procs.ts";
import { bundle, ROOT } from "./wrangler.ts";

export interface SideBySide {
  /** The checkout whose build serves the `stoker` arms. */
  base: string;
  /** The checkout whose build serves the `slow` arms (no tracker delay here). */
  against: string;
  groups: readonly Group[];
  /** Worker vars for both builds, over the benchmark tenant's. */
  vars: Record<string, string>;
  /** Worker vars for the `against` build alone, over `vars` (one checkout against itself with a setting changed). */
  againstVars?: Record<string, string>;
  /** Which builds are served with their trackers in a process of their own and no Cache API (`serveTrackerApart`). */
  apart?: "against" | "both";
  /** The simulator's spacing of streamed events. */
  streamDelayMs: number;
  /**
   * The length of every answer's text, in characters (the simulator's own reply otherwise: about 60); its
   * stream sends a content delta for every 24 (sim/anthropic/stream.ts), so this sets a stream's events.
   */
  replyChars?: number | undefined;
  /** Called with each group as it starts. */
  onGroup?: (g: Group) => void;
  /** Called after each group's warm-up with the builds' process groups; its result once the group is measured. */
  measuring?: (
    g: Group,
    pgids: { stoker: number; worker: number; slow: number },
  ) => Promise<() => Promise<void>>;
}

/** Both builds bundled and served under Miniflare, with the reference worker; each group's samples. */
export async function sideBySide(o: SideBySide): Promise<GroupResult[]> {
  const tmp = mkdtempSync(join(tmpdir(), "stoker-ab-"));
  const reply = o.replyChars ? prose(Math.ceil(o.replyChars / 4), 7).slice(0, o.replyChars) : null;
  // One recorded request per namespace: none is read, and a thousand large bodies per arm would grow this
  // process (the client of every arm) by gigabytes (run.ts).
  const sim = await startSimulator({
    port: 0,
    host: "127.0.0.1",
    streamDelayMs: o.streamDelayMs,
    maxRecordedRequests: 1,
    ...(reply ? { reply: () => reply } : {}),
  });
  try {
    const [baseEntry, workerEntry, againstEntry] = await Promise.all([
      bundle(join(o.base, "wrangler.toml"), join(tmp, "base")),
      bundle(join(ROOT, "bench/overhead/worker/wrangler.toml"), join(tmp, "worker")),
      bundle(join(o.against, "wrangler.toml"), join(tmp, "against")),
    ]);
    rmSync(join(ROOT, "bench/overhead/worker/.wrangler"), { recursive: true, force: true });
    const { tenantKey, vars: stokerVars } = benchTenant(sim.url);
    const vars = { ...stokerVars, ...o.vars };
    const [base, worker, reader, other] = await Promise.all([
      (o.apart === "both" ? serveTrackerApart : serveMiniflare)(
        "stoker",
        baseEntry,
        join(o.base, "wrangler.toml"),
        vars,
        join(tmp, "state-base"),
      ),
      serveReference(workerEntry, sim.url, join(tmp, "state-worker")),
      serveReference(workerEntry, sim.url, join(tmp, "state-reader"), "reading proxy"),
      (o.apart ? serveTrackerApart : serveMiniflare)(
        "stoker against",
        againstEntry,
        join(o.against, "wrangler.toml"),
        { ...vars, ...o.againstVars },
        join(tmp, "state-other"),
      ),
    ]);
    const targets: Targets = {
      sim: sim.url,
      worker: worker.url,
      reader: reader.url,
      stoker: base.url,
      slow: other.url,
      stokerPgid: base.child.pgid,
      workerPgid: worker.child.pgid,
      readerPgid: reader.child.pgid,
      slowPgid: other.child.pgid,
      helperPgids: [...(base.helpers ?? []), ...(other.helpers ?? [])].map((c) => c.pgid),
      tenantKey,
      ...(o.measuring
        ? {
            measuring: (g: Group) =>
              (o.measuring as NonNullable<SideBySide["measuring"]>)(g, {
                stoker: base.child.pgid,
                worker: worker.child.pgid,
                slow: other.child.pgid,
              }),
          }
        : {}),
      // No CPU is reported here: nothing idle to subtract.
      idle: { stoker: {}, worker: {}, reader: {}, slow: {} },
      ...(GC_TRACED
        ? {
            outputs: {
              stoker: () => base.child.output(),
              worker: () => worker.child.output(),
              slow: () => other.child.output(),
            },
          }
        : {}),
    };
    const runId = Date.now().toString(36);
    const results: GroupResult[] = [];
    for (const [i, g] of o.groups.entries()) {
      o.onGroup?.(g);
      results.push(await runGroup(targets, g, 1000 + i, runId));
    }
    return results;
  } finally {
    await stopAll();
    await sim.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The groups `--n=K`, `--sizes=2000,20000,100000`, `--mode=json|stream|both` and `--first=carried|opening`
 * ask for (100 requests a group by default; first requests carry earlier turns unless `opening`), each after
 * `--warmup=K` requests of its own (10 by default).
 */
export function groupArgs(): { n: number; groups: Group[] } {
  const n = Number(arg("n") ?? 100);
  const warmup = warmupArg(arg("warmup"), 10);
  const given = arg("first") ?? "carried";
  if (given !== "carried" && given !== "opening") throw new Error(`--first=${given}: carried or opening`);
  const first: Group["first"] = given;
  const sizes = (arg("sizes") ?? "2000,20000,100000").split(",").map(Number);
  const mode = arg("mode") ?? "both";
  if (!["json", "stream", "both"].includes(mode)) throw new Error(`--mode=${mode}: json, stream or both`);
  const groups = sizes.flatMap((tokens) =>
    (["anthropic", "openai"] as const).flatMap((upstream) =>
      (mode === "both" ? [false, true] : [mode === "stream"]).map((stream) => ({
        upstream,
        tokens,
        stream,
        n,
        warmup,
        first,
      })),
    ),
  );
  return { n, groups };
}

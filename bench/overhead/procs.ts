// Child processes of the benchmark: each runs in its own process group so that stopping it also stops
// what it spawned (wrangler starts workerd and esbuild), and only what this run started is ever signalled.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export interface Child {
  name: string;
  /** Process group id (= the child's pid, since it is spawned detached). */
  pgid: number;
  proc: ChildProcess;
  /** Everything it wrote, for fault counting and for error messages. */
  output(): string;
  stop(): Promise<void>;
}

const running = new Set<Child>();

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts `args` with this Node (22), detached into its own process group, capturing its output. */
export function start(name: string, args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, args, {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  if (proc.pid === undefined) throw new Error(`${name}: spawn failed`);
  const pgid = proc.pid;
  const chunks: string[] = [];
  let size = 0;
  const keep = (d: Buffer) => {
    // Bounded: a chatty child must not grow this process without limit.
    if (size < 8 * 1024 * 1024) {
      chunks.push(d.toString("utf8"));
      size += d.length;
    }
  };
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);
  const child: Child = {
    name,
    pgid,
    proc,
    output: () => chunks.join(""),
    async stop() {
      running.delete(child);
      if (!groupAlive(pgid)) return;
      process.kill(-pgid, "SIGTERM");
      for (let i = 0; i < 50 && groupAlive(pgid); i++) await sleep(100);
      if (groupAlive(pgid)) process.kill(-pgid, "SIGKILL");
    },
  };
  running.add(child);
  return child;
}

/** Stops every child still running (SIGTERM, then SIGKILL after 5 s). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop()));
}

// Last resort on an abrupt exit: no time for a grace period, so SIGKILL the groups we started.
process.on("exit", () => {
  for (const c of running) if (groupAlive(c.pgid)) process.kill(-c.pgid, "SIGKILL");
});
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    void stopAll().finally(() => process.exit(sig === "SIGINT" ? 130 : 143));
  });
}

/** A free TCP port on 127.0.0.1 (asked from the OS, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 200, the child dies, or `timeoutMs` passes. */
export async function waitHealthy(child: Child, url: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.proc.exitCode !== null)
      throw new Error(`${child.name} exited:\n${child.output().slice(-3000)}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(
    `${child.name} not healthy at ${url} after ${timeoutMs} ms:\n${child.output().slice(-3000)}`,
  );
}

/** Runs a child to completion (bounded by `timeoutMs`) and returns its output. */
export async function runToEnd(
  name: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 300_000,
): Promise<{ code: number | null; output: string }> {
  const child = start(name, args, env);
  const done = new Promise<number | null>((resolve) => child.proc.once("exit", (code) => resolve(code)));
  const timer = sleep(timeoutMs, "timeout" as const, { ref: false });
  const result = await Promise.race([done, timer]);
  await child.stop();
  if (result === "timeout") throw new Error(`${name} did not finish within ${timeoutMs} ms`);
  return { code: result, output: child.output() };
}

// What every end-to-end script needs: PASS/FAIL results with a final `N passed, M failed` line, child
// processes in their own process groups (stopped with SIGTERM, then SIGKILL), scratch directories, and a
// `runMain` that cleans all of it up on success, failure, SIGINT and SIGTERM.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BIN = join(ROOT, "node_modules", ".bin");
// Node 22 from node_modules/.bin first, as npm scripts and npx do.
export const PATH = [BIN, process.env.PATH ?? ""].join(delimiter);

const STOP_GRACE_MS = 5_000;

export type Env = Record<string, string | undefined>;

// ---- results ---------------------------------------------------------------------------------------------

let passed = 0;
let failed = 0;
/** Set on SIGINT/SIGTERM: no new child is started and no further result is counted after that. */
let stopping = false;

export function interrupted(): boolean {
  return stopping;
}

/** The results counted so far. */
export function results(): { passed: number; failed: number } {
  return { passed, failed };
}

/** Prints and counts one result; returns `ok`. */
export function check(name: string, ok: boolean, detail = ""): boolean {
  // After SIGINT/SIGTERM, what is still running only sees its children vanish: not a result.
  if (stopping) return false;
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? "PASS" : "FAIL"} ${name}${detail ? ` (${detail})` : ""}`);
  return ok;
}

// ---- small helpers ---------------------------------------------------------------------------------------

export function tail(text: string, lines = 20): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Seconds with one decimal, for timings. */
export const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** A port that was free a moment ago on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

// ---- cleanup ---------------------------------------------------------------------------------------------

const cleanups: (() => unknown)[] = [];

/** Runs at the end, after every child is stopped (latest registered first). */
export function onCleanup(fn: () => unknown): void {
  cleanups.push(fn);
}

/** A fresh directory under the system temp dir, removed at the end. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ---- child processes -------------------------------------------------------------------------------------

/** Every child runs in its own process group (detached) so that it can be stopped with its children. */
const children = new Set<ChildProcess>();

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** SIGTERM the child's group, give it STOP_GRACE_MS, then SIGKILL whatever is left of the group. */
async function stop(child: ChildProcess): Promise<void> {
  signalGroup(child, "SIGTERM");
  const timer = new Promise<void>((resolve) => setTimeout(resolve, STOP_GRACE_MS).unref());
  await Promise.race([exited(child), timer]);
  signalGroup(child, "SIGKILL");
  children.delete(child);
}

/** A long-running child (a server): detached, tracked, stdin closed, output kept in a bounded log. */
export interface Service {
  child: ChildProcess;
  log: () => string;
}

export function startService(cmd: string, args: string[], opts: { cwd: string; env: Env }): Service {
  if (stopping) throw new Error("interrupted");
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    // wrangler's generated types declare the Worker's vars as required members of ProcessEnv.
    env: opts.env as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  children.add(child);
  let log = "";
  const append = (d: string) => {
    log = (log + d).slice(-256_000);
  };
  child.stdout?.setEncoding("utf8").on("data", append);
  child.stderr?.setEncoding("utf8").on("data", append);
  child.once("error", (err) => append(`\nspawn error: ${err}\n`));
  return { child, log: () => log };
}

/**
 * Polls `url` until `ready` accepts an answer, the service exits, or `timeoutMs` passes. `ready` may throw
 * to give up at once (a service that answers, but wrongly).
 */
export async function waitForHttp(
  service: Service,
  name: string,
  url: string,
  timeoutMs: number,
  ready: (res: Response) => Promise<boolean> = async (res) => res.ok,
): Promise<void> {
  const { child } = service;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !stopping) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}):\n${tail(service.log())}`);
    }
    let res: Response | undefined;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    } catch {
      // Not listening yet.
    }
    if (res && (await ready(res))) return;
    await sleep(200);
  }
  throw new Error(`${name} did not answer ${url} within ${timeoutMs / 1000} s:\n${tail(service.log())}`);
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

/** Runs a command to completion with stdin closed, a timeout, and its output collected. */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; env: Env; timeoutMs: number },
): Promise<RunResult> {
  const started = Date.now();
  if (stopping) {
    return Promise.resolve({
      code: null,
      signal: null,
      stdout: "",
      stderr: "interrupted",
      timedOut: false,
      ms: 0,
    });
  }
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env as NodeJS.ProcessEnv,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    children.add(child);
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      signalGroup(child, "SIGKILL");
    }, opts.timeoutMs);
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      children.delete(child);
      // A detached child may leave helpers behind in its group.
      signalGroup(child, "SIGKILL");
      resolve({ code, signal, stdout, stderr, timedOut, ms: Date.now() - started });
    };
    child.once("error", (err) => {
      stderr += String(err);
      done(null, null);
    });
    child.once("close", done);
  });
}

// ---- main ------------------------------------------------------------------------------------------------

let cleaning: Promise<void> | undefined;

/** Stops every child (with its process group), then runs the registered cleanups. Once. */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all([...children].map((c) => stop(c)));
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        console.log(`cleanup: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  })();
  return cleaning;
}

let finished = false;
let exitCode: number | undefined;

/** Cleans up, prints the summary line (once) and exits. */
async function finish(code: number): Promise<never> {
  await cleanup();
  if (!finished) {
    finished = true;
    console.log(`${passed} passed, ${failed} failed`);
  }
  process.exit(exitCode ?? code);
}

/**
 * Runs a script's body: an unexpected error is one failed result; `onFailure` (e.g. print a server log)
 * runs when anything failed; the exit code is non-zero on any failure or when nothing passed.
 */
export async function runMain(
  body: () => Promise<void>,
  opts: { onFailure?: () => void } = {},
): Promise<never> {
  // Last resort if the process ends some other way: no process group outlives the script.
  process.on("exit", () => {
    for (const c of children) signalGroup(c, "SIGKILL");
  });
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    process.once(signal, () => {
      failed++;
      console.log(`FAIL interrupted by ${signal}`);
      stopping = true;
      exitCode = code;
      void finish(code);
    });
  }
  try {
    await body();
  } catch (err) {
    check("ran without an unexpected error", false, err instanceof Error ? err.message : String(err));
  }
  if (failed > 0 && !stopping) opts.onFailure?.();
  return finish(failed > 0 || passed === 0 ? 1 : 0);
}

// ---- provenance ------------------------------------------------------------------------------------------

/** The commit the figures come from, and whether src/ had uncommitted changes then (read-only git). */
export function sourceVersion(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], { cwd: ROOT })
      .toString()
      .trim();
    return dirty ? `${head} with uncommitted changes in src/` : head;
  } catch {
    return "unknown";
  }
}

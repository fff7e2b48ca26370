import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * `npm run bench [-- --overhead]`: every benchmark, one after the other, each as its own `npm run` child
 * with the terminal passed through:
 * - bench:engine (CPU of the engine inside workerd),
 * - bench:economics (the trace replay; writes bench/report/economics.md and its SVG charts),
 * - bench:gpu, when bench/gpu/run.ts exists,
 * - bench:overhead only with --overhead (it takes minutes: workerd through Miniflare, real HTTP).
 * Every benchmark runs even when an earlier one fails; the exit code is 1 if any failed.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const USAGE = "usage: npm run bench [-- --overhead]\n";

function npm(script: string): Promise<number> {
  // Under `npm run`, npm_execpath is npm's own CLI: run it with this Node so the children use it too.
  const cli = process.env.npm_execpath;
  const [cmd, args] = cli?.endsWith(".js")
    ? [process.execPath, [cli, "run", script]]
    : ["npm", ["run", script]];
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: "inherit" });
    child.on("error", (err) => {
      process.stderr.write(`bench: could not start ${script}: ${err.message}\n`);
      resolve(1);
    });
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== "--overhead" && a !== "--help" && a !== "-h");
  if (unknown.length > 0 || args.includes("--help") || args.includes("-h")) {
    if (unknown.length > 0) process.stderr.write(`bench: unknown argument ${unknown.join(" ")}\n`);
    process.stderr.write(USAGE);
    return unknown.length > 0 ? 2 : 0;
  }
  const scripts = ["bench:engine", "bench:economics"];
  if (existsSync(join(root, "bench/gpu/run.ts"))) scripts.push("bench:gpu");
  else process.stdout.write("bench: bench/gpu/run.ts does not exist yet, skipping bench:gpu\n");
  if (args.includes("--overhead")) scripts.push("bench:overhead");
  else process.stdout.write("bench: skipping bench:overhead (minutes long; add -- --overhead to run it)\n");

  const results: { script: string; code: number; seconds: number }[] = [];
  for (const script of scripts) {
    process.stdout.write(`\nbench: ==> npm run ${script}\n`);
    const started = performance.now();
    const code = await npm(script);
    results.push({ script, code, seconds: (performance.now() - started) / 1000 });
  }
  process.stdout.write("\nbench: summary\n");
  for (const r of results) {
    process.stdout.write(
      `  ${r.code === 0 ? "ok    " : `FAILED (exit ${r.code})`}  ${r.script.padEnd(16)} ${r.seconds.toFixed(1)} s\n`,
    );
  }
  return results.some((r) => r.code !== 0) ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);

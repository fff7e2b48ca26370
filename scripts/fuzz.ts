// The long fuzz run: the property of test/hardening/fuzz.test.ts (every route, hostile bodies and headers,
// inside workerd, the simulator over real HTTP) with ≥ 10,000 generated cases instead of CI's 300.
//
//   npm run fuzz                         # 10,000 cases, a fresh seed (printed)
//   npm run fuzz -- --runs 50000 --seed 42
//   npm run fuzz -- --write              # also writes the figures into docs/hardening.md
//
// How the numbers reach the test: vitest's provide/inject, through test/hardening/vitest.fuzz.config.ts
// (FUZZ_RUNS, FUZZ_SEED). Prints cases run, statuses seen (Stoker's own answers and forwarded upstream
// answers apart) and failures by kind with examples; the exit code is non-zero on any failure.
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Summary } from "../test/hardening/fuzz-summary.ts";
import { writeDocSection } from "./lib/doc-section.ts";
import { BIN, check, PATH, ROOT, run, runMain, sourceVersion, tail } from "./lib/harness.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "10000" },
    seed: { type: "string" },
    write: { type: "boolean", default: false },
  },
});
const runs = Number(values.runs);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (!Number.isSafeInteger(runs) || runs < 1) throw new Error("--runs must be a positive integer");
if (!Number.isSafeInteger(seed)) throw new Error("--seed must be an integer");

const sorted = (m: Record<string, number>) => Object.entries(m).sort((a, b) => b[1] - a[1]);

function report(s: Summary, ms: number): string {
  const stoker5xx = sorted(s.statuses)
    .filter(([k]) => k.endsWith("stoker") && Number(k.slice(0, 3)) >= 500)
    .reduce((a, [, n]) => a + n, 0);
  const lines = [
    `Fuzz run: ${s.cases.toLocaleString("en")} cases (seed ${s.seed}) in ${(ms / 1000).toFixed(0)} s`,
    `- forwarded to the upstream and answered by it: ${s.forwarded}; rejected by Stoker (4xx): ${s.rejected}; served by Stoker (2xx: healthz, analytics, admin): ${s.served}`,
    `- GPU pool routes: ${s.gpu?.cases ?? 0} cases, ${s.gpu?.forwarded ?? 0} answered by a GPU backend`,
    `- statuses: ${sorted(s.statuses)
      .map(([k, n]) => `${k} × ${n}`)
      .join(", ")}`,
    `- Stoker 5xx: ${stoker5xx - s.upstreamResets} (not counting ${s.upstreamResets} 502s for connections the simulator reset, below); engine faults logged (fail-open, request forwarded unchanged): ${s.engineFaults}`,
    `- upstream answers that were the simulator's own 5xx (forwarded unchanged): ${s.statuses["500 upstream"] ?? 0}; upstream 431 bodies reset by Node: ${s.upstreamBodyResets}; connections Node reset before its 431 (Stoker's 502, accounted as unreachable): ${s.upstreamResets}`,
    `- failed cases: ${s.failedCases}; failed checks: ${s.failures}${
      s.failures
        ? `\n${sorted(s.failureKinds)
            .map(([k, n]) => `  - ${k}: ${n}`)
            .join("\n")}`
        : ""
    }`,
  ];
  return lines.join("\n");
}

function writeDocs(s: Summary, ms: number): void {
  const kinds = sorted(s.kinds)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  const body = [
    "```",
    report(s, ms),
    "```",
    "",
    `Cases by what was done to them (a case may have several): ${kinds}.`,
    "",
    `Regenerate: \`npm run fuzz -- --runs ${s.runs} --seed ${s.seed} --write\` (${new Date().toISOString().slice(0, 10)}, source ${sourceVersion()}).`,
  ].join("\n");
  writeDocSection("docs/hardening.md", "fuzz", body);
}

await runMain(async () => {
  console.log(`fuzz: ${runs} cases, seed ${seed} (replay with --seed ${seed})`);
  const started = Date.now();
  const result = await run(
    join(BIN, "vitest"),
    ["run", "--config", "test/hardening/vitest.fuzz.config.ts", "test/hardening/fuzz.test.ts"],
    {
      cwd: ROOT,
      env: { ...process.env, PATH, FUZZ_RUNS: String(runs), FUZZ_SEED: String(seed), NO_COLOR: "1" },
      // ~6 ms a case on 2 cores, plus startup; generous.
      timeoutMs: 120_000 + runs * 100,
    },
  );
  const ms = Date.now() - started;
  const line = `${result.stdout}\n${result.stderr}`.split("\n").find((l) => l.includes("FUZZ_SUMMARY "));
  if (!line) {
    check(
      "the fuzz test ran and reported",
      false,
      `vitest exited ${result.code}${result.timedOut ? " (timed out)" : ""}`,
    );
    console.log(tail(`${result.stdout}\n${result.stderr}`, 40));
    return;
  }
  const summary = JSON.parse(line.slice(line.indexOf("FUZZ_SUMMARY ") + "FUZZ_SUMMARY ".length)) as Summary;
  console.log(report(summary, ms));
  if (summary.examples.length > 0) {
    console.log("examples (a few of each kind):");
    for (const e of summary.examples) console.log(`  ${e.slice(0, 400)}`);
  }
  if (summary.upstream5xx.length > 0) {
    console.log("simulator 5xx (its own bugs, forwarded unchanged):");
    for (const e of summary.upstream5xx) console.log(`  ${e.slice(0, 200)}`);
  }
  if (values.write) writeDocs(summary, ms);
  check(`${summary.cases} cases ran`, summary.cases === runs && runs >= 1);
  check("no Stoker 5xx, no crash, no failed case", summary.failures === 0, `${summary.failures} failures`);
});

// Where Stoker's added time goes, stage by stage (issue 19): `node bench/overhead/stages.ts [--n=K]
// [--sizes=2000,20000,100000] [--mode=json|stream|both] [--apart] [--out=FILE]` (`npm run bench:stages`;
// `--apart`: every build served as a deploy runs it, its trackers in a process of their own and no Cache
// API, miniflare.ts `serveTrackerApart`; `npm run bench:stages:apart`).
// Builds Stoker cut short at each stage of its request path (copies of this checkout's src/ with one edit
// each, below), and measures each cut side by side with the one before it (side-by-side.ts: one run per
// pair, the requests interleaved with the direct and null-proxy arms), so that every step's cost is a
// paired difference within one run. A cut's build forwards what it has to the simulator with a plain
// fetch and hands the answer back as the runtime gives it, as the null proxy does.
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { arg } from "./args.ts";
import type { Arm, Group, GroupResult } from "./latency.ts";
import { groupArgs, sideBySide } from "./side-by-side.ts";
import { percentile } from "./stats.ts";
import { ROOT } from "./wrangler.ts";

interface Edit {
  file: string;
  /** Text that must occur exactly once in the file. */
  anchor: string;
  /** Where the added line goes: before the anchor, or in its place. */
  at: "before" | "replace";
  text: string;
}

interface Stage {
  name: string;
  /** What the build does before it forwards. */
  does: string;
  edits: Edit[];
}

const PROXY = "src/edge/proxy.ts";
// A cut's forward: the client's headers as they came (the simulator takes any key), the plan header the
// benchmark checks for, the answer's body as the runtime gives it.
const FORWARD = `
async function cutForward(c: Context<AppEnv>, spec: EndpointSpec, body: BodyInit | null): Promise<Response> {
  const headers = new Headers();
  for (const [k, v] of c.req.raw.headers)
    if (!["host", "connection", "content-length", "accept-encoding", "transfer-encoding"].includes(k)) headers.set(k, v);
  const up = await fetch(upstreamUrl(c, spec), { method: "POST", headers, body });
  const out = new Headers(up.headers);
  out.set("x-stoker-plan", "cut");
  return new Response(up.body, { status: up.status, headers: out });
}
`;
// A cut before the record still makes, after the answer, the hashes a conversation's first request left
// for later (Prepared.hashLater, which the record's toRecord makes): the conversation's checkpoint comes
// with them, and without it every later turn would be analyzed from the family's head.
const SETTLE =
  "      if (prepared.hashLater) c.executionCtx.waitUntil(Promise.resolve().then(prepared.hashLater));\n";
const HANDLER = "/** One handler for every proxied endpoint";
const withForward: Edit = { file: PROXY, anchor: HANDLER, at: "before", text: FORWARD };

const STAGES: Stage[] = [
  {
    name: "edge",
    does: "Hono, the request context and the tenant's key checked; the client's body forwarded as it comes",
    edits: [
      withForward,
      {
        file: PROXY,
        anchor: "    const { config, requestId } = c.var;\n",
        at: "before",
        text: "    if (c) return cutForward(c, spec, c.req.raw.body);\n",
      },
    ],
  },
  {
    name: "read",
    does: "+ the body read whole, decoded, parsed (a later turn: after the kept one) and validated; its bytes forwarded",
    edits: [
      withForward,
      {
        file: PROXY,
        anchor: "    spec.validate(body);\n",
        at: "replace",
        text: "    spec.validate(body);\n    if (c) return cutForward(c, spec, read.bytes);\n",
      },
    ],
  },
  {
    name: "prepare",
    does: "+ canonicalize, hash, plan from the isolate's state, render; the prepared body forwarded",
    edits: [
      withForward,
      {
        file: PROXY,
        anchor: "    let outBody: string | Uint8Array = read.raw === null ? read.bytes : prepared.body;\n",
        at: "replace",
        text: `    let outBody: string | Uint8Array = read.raw === null ? read.bytes : prepared.body;\n    if (c) {\n${SETTLE}      return cutForward(c, spec, outBody);\n    }\n`,
      },
    ],
  },
  {
    name: "forward",
    does: "+ the body and headers as Stoker sends them upstream (cache diagnostics asked, stream usage asked, the keepalive capture), the forward with its deadline; the answer handed back as the runtime gives it, not relayed",
    edits: [
      {
        file: PROXY,
        anchor: "    const headersMs = Date.now() - startedAt;\n",
        at: "before",
        text: `    if (c) {\n${SETTLE}      const out = new Headers(upstream.headers);\n      out.set("x-stoker-plan", "cut");\n      return new Response(upstream.body, { status: upstream.status, headers: out });\n    }\n`,
      },
    ],
  },
  {
    name: "no record",
    does: "+ the relay (a JSON answer's first chunk read, or every event of a stream through its watcher and rewrites), the log line, what the isolate learns from the outcome; no record RPC (so no tracker work and no shared answer)",
    edits: [
      {
        file: "src/edge/record.ts",
        anchor: "    const recorded = recordSafely(c.env, outcome.tenantId, record, log, share);\n",
        at: "replace",
        text: "    const recorded = Promise.resolve(false);\n",
      },
    ],
  },
  {
    name: "Stoker",
    does: "+ the record (after the response, never waited for): the checkout as it is",
    edits: [],
  },
];

const { n, groups } = groupArgs();
const apart = process.argv.includes("--apart");
const outFile =
  arg("out") ??
  join(ROOT, apart ? "bench/report/overhead-stages-apart.md" : "bench/report/overhead-stages.md");

/** A copy of this checkout's Worker with the stage's edits; each anchor must be found exactly once. */
function build(stage: Stage, under: string): string {
  if (stage.edits.length === 0) return ROOT;
  const dir = join(under, stage.name.replaceAll(" ", "-"));
  cpSync(join(ROOT, "src"), join(dir, "src"), { recursive: true });
  cpSync(join(ROOT, "wrangler.toml"), join(dir, "wrangler.toml"));
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  for (const e of stage.edits) {
    const path = join(dir, e.file);
    const text = readFileSync(path, "utf8");
    const count = text.split(e.anchor).length - 1;
    if (count !== 1) throw new Error(`${stage.name}: ${e.file} has its anchor ${count} times, not once`);
    writeFileSync(path, text.replace(e.anchor, e.at === "before" ? `${e.text}${e.anchor}` : e.text));
  }
  return dir;
}

const f = (v: number) => v.toFixed(2);
const p50 = (a: readonly number[], b: readonly number[]) =>
  percentile(
    a.map((x, i) => x - (b[i] as number)),
    50,
  );
const label = (g: Group) =>
  `${g.upstream === "anthropic" ? "Anthropic Messages" : "OpenAI Chat"} | ${g.stream ? "stream" : "JSON"} | ${g.tokens / 1000}K`;

interface Pair {
  from: Stage;
  to: Stage;
  results: GroupResult[];
}

/** p50 of `a` − `b` per request pair in one group of a run, wall time; a stream's first byte in brackets. */
function cell(r: GroupResult | undefined, a: Arm, b: Arm, withTtfb = true): string {
  if (!r) return "—";
  const s = r.samples;
  const wall = f(p50(s[a].wall, s[b].wall));
  return withTtfb && r.group.stream ? `${wall} (${f(p50(s[a].ttfb, s[b].ttfb))})` : wall;
}

async function main(): Promise<void> {
  const began = performance.now();
  const under = mkdtempSync(join(tmpdir(), "stoker-stages-"));
  try {
    const dirs = STAGES.map((s) => build(s, under));
    const pairs: Pair[] = [];
    for (let i = 0; i + 1 < STAGES.length; i++) {
      const from = STAGES[i] as Stage;
      const to = STAGES[i + 1] as Stage;
      process.stderr.write(`[stages] ${from.name} against ${to.name}\n`);
      const results = await sideBySide({
        base: dirs[i] as string,
        against: dirs[i + 1] as string,
        groups,
        vars: {},
        ...(apart ? { apart: "both" as const } : {}),
        streamDelayMs: 0,
        onGroup: (g) =>
          process.stderr.write(
            `[stages]   ${g.upstream} ${g.tokens / 1000}K ${g.stream ? "stream" : "json"} x${n}\n`,
          ),
      });
      pairs.push({ from, to, results });
    }
    const table = (later: boolean) => [
      `| upstream | mode | prompt tokens | ${STAGES[0]?.name} − null | ${pairs.map((p) => `${p.to.name} − ${p.from.name}`).join(" | ")} | Stoker − null (last run) |`,
      `|---|---|---|${"---|".repeat(pairs.length + 2)}`,
      ...groups.map((g, gi) => {
        // The earlier build of a run serves its `stoker` arms, the later one its `slow` arms.
        const e: Arm = later ? "stoker" : "stokerFirst";
        const l: Arm = later ? "slow" : "slowFirst";
        const steps = pairs.map((p) => cell(p.results[gi], l, e));
        return `| ${label(g)} | ${cell(pairs[0]?.results[gi], e, "worker")} | ${steps.join(" | ")} | ${cell(pairs.at(-1)?.results[gi], l, "worker", false)} |`;
      }),
    ];
    const cpu = [
      `| upstream | mode | prompt tokens | null proxy | ${STAGES[0]?.name} | ${pairs.map((p) => `${p.to.name} − ${p.from.name}`).join(" | ")} |`,
      `|---|---|---|${"---|".repeat(pairs.length + 2)}`,
      ...groups.map(
        (g, gi) =>
          `| ${label(g)} | ${f(pairs[0]?.results[gi]?.cpu.worker.totalMs ?? Number.NaN)} | ${f(pairs[0]?.results[gi]?.cpu.stoker.totalMs ?? Number.NaN)} | ${pairs
            .map((p) => {
              const c = p.results[gi]?.cpu;
              return c ? f(c.slow.totalMs - c.stoker.totalMs) : "—";
            })
            .join(" | ")} |`,
      ),
    ];
    // Each stage's own process in the run where it is the later build (the first stage: the first run's earlier one).
    const faults = [
      `| upstream | mode | prompt tokens | null proxy | ${STAGES.map((s) => s.name).join(" | ")} |`,
      `|---|---|---|${"---|".repeat(STAGES.length + 1)}`,
      ...groups.map((g, gi) => {
        const first = pairs[0]?.results[gi]?.cpu;
        const cells = [
          first ? first.stoker.minorFaults.toFixed(0) : "—",
          ...pairs.map((p) => p.results[gi]?.cpu.slow.minorFaults.toFixed(0) ?? "—"),
        ];
        return `| ${label(g)} | ${first ? first.worker.minorFaults.toFixed(0) : "—"} | ${cells.join(" | ")} |`;
      }),
    ];
    const noise = pairs.flatMap((p) =>
      p.results.map((r) => p50(r.samples.worker2.wall, r.samples.worker.wall)),
    );
    const took = Math.round((performance.now() - began) / 1000);
    const text = [
      `# Where Stoker's added time goes, stage by stage${apart ? ", as a deploy runs it (trackers in a process of their own)" : ""}`,
      "",
      `Generated by \`node bench/overhead/stages.ts --n=${n}${apart ? " --apart" : ""}\` (\`npm run bench:stages${apart ? ":apart" : ""}\`) on ${new Date().toISOString()}; took ${took} s. ${n} requests per arm and group after 10 warm-up rounds; the simulator sends each answer's events at once (0 ms apart).`,
      ...(apart
        ? [
            "",
            "Every build is served as a deploy runs it, as far as one machine can (`--apart`, bench/overhead/miniflare.ts `serveTrackerApart`): its tenants' trackers in a workerd process of its own, reached through Miniflare's dev registry, and its Cache API a no-op; so the *Stoker − no record* step is what sending the record costs Stoker's process (the RPC out, the cache write's hand-off), not the tracker's work, and the CPU table below counts Stoker's process alone (the trackers' processes are the benchmark's own load, not other load). bench/report/overhead-stages.md is the same with everything in Stoker's process.",
          ]
        : []),
      "",
      "Stoker cut short at each stage of its request path, each cut a copy of this checkout's src/ with one edit (bench/overhead/stages.ts): at the cut the build forwards what it has with a plain fetch (the client's headers as they came) and returns the simulator's answer as the runtime gives it, as the null proxy does.",
      "",
      ...STAGES.map((s) => `- **${s.name}**: ${s.does}.`),
      "",
      "A build cut before the relay never reaches the outcome hook, so its isolate learns nothing from its answers: its later turns are planned from what it holds, as a first request is (their bodies still parsed after the kept one), and they look for an answer another isolate shared as first requests do (after 8 misses in a row, one request in 8: src/tracker/shared-look.ts). The steps into *prepare* and out of *forward* carry that difference on later turns.",
      "",
      "Each stage runs side by side with the one before it (bench/overhead/side-by-side.ts, as `bench/overhead/ab.ts` does: both builds under Miniflare, their requests interleaved one by one with the direct and null-proxy arms), so each column below is a paired difference within one run: p50 over the request pairs, ms; streams show the wall time and, in brackets, the time to first byte. A sum across columns mixes runs (each its own machine state): the last column is the whole path over the null proxy in the last run. Noise floor (the null proxy's second copy − the null proxy, p50, every group of every run): " +
        `${f(Math.min(...noise))} to ${f(Math.max(...noise))} ms.`,
      "",
      "## Later turns (the isolate heard the conversation's earlier turns)",
      "",
      ...table(true),
      "",
      "## First requests (every request a new conversation of the family, carrying earlier turns)",
      "",
      ...table(false),
      "",
      "## CPU per request (ms)",
      "",
      `Each build's Miniflare process group (workerd${apart ? "" : " with its Durable Objects"}, and its Node parent), later turns and first requests together, idle not subtracted; the steps are the later stage's process − the earlier's in the same run. /proc counts 10 ms ticks, so a figure is exact to about 20 ms over the group's requests (0.1 ms a request at n=100).`,
      "",
      ...cpu,
      "",
      "## Minor page faults per request",
      "",
      "Memory each build's processes touched for the first time, per request (a 4 KiB page each; on this virtual machine about 100 cost a millisecond): mostly fresh allocations that the runtime has not reused.",
      "",
      ...faults,
      "",
    ].join("\n");
    writeFileSync(outFile, text);
    console.log(text);
  } finally {
    rmSync(under, { recursive: true, force: true });
  }
}

await main();

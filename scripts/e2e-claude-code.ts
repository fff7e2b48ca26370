// End-to-end check with a real client: Claude Code (`claude -p`, print mode) talks to Stoker (`wrangler dev`),
// and Stoker talks to the provider simulator. The same three-turn conversation is also run straight at the
// simulator (the baseline); the script compares what the simulator billed per turn and checks that Stoker
// passed Claude Code's request through (`?beta=true`, `anthropic-beta`, its `cache_control` breakpoints).
//
//   npx node scripts/e2e-claude-code.ts
//
// Loopback only (plus the npm registry, once, to install Claude Code). The pinned Claude Code is installed on
// demand into `.cache/claude-code` (git-ignored, ~400 MB) and reused afterwards. Last line: `N passed, M failed`;
// the exit code is non-zero when anything failed. A run in which every check passed writes
// bench/report/claude-code.md (the README quotes its summary).
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  check,
  type Env,
  interrupted,
  PATH,
  ROOT,
  run,
  runMain,
  scratchDir,
  secs,
  tail,
} from "./lib/harness.ts";
import { reportTo, summarize } from "./lib/report.ts";
import { bodyOf, type RecordedRequest, type Sim, simRequests, simStats, startSim } from "./lib/sim.ts";
import { DEV_TENANT_KEY, type Stoker, startStoker } from "./lib/stoker.ts";

const CLAUDE_CODE_VERSION = "2.1.332";
const MODEL = "claude-sonnet-4-6";
const PROMPTS = [
  "In one sentence: what is a prompt cache?",
  "Give one example of when it saves money.",
  "Summarize both answers in five words.",
];
const CALL_TIMEOUT_MS = 120_000;
const INSTALL_TIMEOUT_MS = 15 * 60_000;
// Tolerance of the cache comparison, per compared turn. The two runs send the same conversation with working
// directories of equal length (see `runDirs`), and the simulator counts ceil(UTF-8 bytes / 4) tokens, so the
// billed numbers are normally identical. What can still differ are per-run strings Claude Code puts in the
// prompt (session ids, dates, durations) if one happens to be a few bytes longer: a few tokens. A real
// caching regression costs at least a whole turn's new text (about 50 tokens here) or the ~21k-token prefix.
const TOLERANCE_PER_TURN = 16;

const CACHE_DIR = join(ROOT, ".cache", "claude-code");

// ---- setup -----------------------------------------------------------------------------------------------

/** Installs the pinned Claude Code into .cache/claude-code when missing; returns the native binary. */
async function ensureClaudeCode(scratch: string): Promise<string> {
  const scope = join(CACHE_DIR, "node_modules", "@anthropic-ai");
  const pkgDir = join(scope, "claude-code");
  const installed = (): string | undefined => {
    try {
      return JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")).version;
    } catch {
      return undefined;
    }
  };
  if (installed() !== CLAUDE_CODE_VERSION) {
    console.log(
      `Installing @anthropic-ai/claude-code@${CLAUDE_CODE_VERSION} into .cache/claude-code (first run only, ~400 MB)...`,
    );
    mkdirSync(CACHE_DIR, { recursive: true });
    const r = await run(
      "npm",
      [
        "install",
        "--no-save",
        "--no-audit",
        "--no-fund",
        "--prefix",
        CACHE_DIR,
        `@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION}`,
      ],
      { cwd: ROOT, env: { ...process.env, PATH }, timeoutMs: INSTALL_TIMEOUT_MS },
    );
    if (r.code !== 0 || installed() !== CLAUDE_CODE_VERSION) {
      throw new Error(
        `npm install of @anthropic-ai/claude-code@${CLAUDE_CODE_VERSION} failed (exit ${r.code}${r.timedOut ? ", timed out" : ""}):\n${tail(r.stdout + r.stderr)}`,
      );
    }
    console.log(`Installed in ${(r.ms / 1000).toFixed(0)} s.`);
  }
  // The package's postinstall copies the platform's native binary over bin/claude.exe; should npm have skipped
  // install scripts, the binary in the platform package (an optional dependency) is the same program.
  const candidates = [join(pkgDir, "bin", "claude.exe")];
  if (existsSync(scope)) {
    for (const name of readdirSync(scope).filter((n) => n.startsWith("claude-code-"))) {
      candidates.push(join(scope, name, "claude"), join(scope, name, "claude.exe"));
    }
  }
  const tried: string[] = [];
  for (const bin of candidates.filter((c) => existsSync(c))) {
    const r = await run(bin, ["--version"], {
      cwd: scratch,
      env: { PATH, HOME: scratch, DISABLE_AUTOUPDATER: "1" },
      timeoutMs: 30_000,
    });
    if (r.code === 0 && r.stdout.includes(CLAUDE_CODE_VERSION)) return bin;
    tried.push(`${bin}: exit ${r.code} ${tail(r.stdout + r.stderr, 3)}`);
  }
  throw new Error(
    `no runnable Claude Code ${CLAUDE_CODE_VERSION} in .cache/claude-code:\n${tried.join("\n")}`,
  );
}

type Json = Record<string, unknown>;

/** Text of the last user message (all its text blocks). */
function lastUserText(body: Json): string {
  const messages = Array.isArray(body.messages) ? (body.messages as Json[]) : [];
  const last = messages.filter((m) => m?.role === "user").at(-1);
  if (!last) return "";
  if (typeof last.content === "string") return last.content;
  if (!Array.isArray(last.content)) return "";
  return (last.content as Json[]).map((b) => (typeof b?.text === "string" ? b.text : "")).join("\n");
}

/** JSON path -> value of every `cache_control` in a request body. */
function breakpoints(v: unknown, path = "$", out = new Map<string, string>()): Map<string, string> {
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) breakpoints(x, `${path}[${i}]`, out);
  } else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      if (k === "cache_control") out.set(`${path}.cache_control`, JSON.stringify(x));
      else breakpoints(x, `${path}.${k}`, out);
    }
  }
  return out;
}

// ---- one Claude Code conversation ------------------------------------------------------------------------

interface Turn {
  answer: string;
  /** The main-model request(s) of the turn (normally one) and everything else Claude Code sent meanwhile. */
  main: RecordedRequest[];
  side: RecordedRequest[];
}

interface Conversation {
  label: string;
  ns: string;
  turns: Turn[];
}

/**
 * Runs `claude -p` three times (the second and third with `--continue`) as a user would, with a fresh HOME,
 * and attributes what the simulator received in namespace `ns` to each turn.
 */
async function converse(
  claude: string,
  opts: { label: string; baseUrl: string; ns: string; dirs: { home: string; work: string; tmp: string } },
  simUrl: string,
): Promise<Conversation> {
  const env: Env = {
    // A clean environment: nothing from the caller's shell (keys, proxies, a parent Claude Code session).
    PATH,
    HOME: opts.dirs.home,
    TMPDIR: opts.dirs.tmp,
    CLAUDE_CODE_TMPDIR: opts.dirs.tmp,
    ANTHROPIC_BASE_URL: opts.baseUrl,
    ANTHROPIC_API_KEY: DEV_TENANT_KEY,
    DISABLE_TELEMETRY: "1",
    DISABLE_ERROR_REPORTING: "1",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_AUTOUPDATER: "1",
  };
  const conv: Conversation = { label: opts.label, ns: opts.ns, turns: [] };
  for (const [i, prompt] of PROMPTS.entries()) {
    const seen = (await simRequests(simUrl, opts.ns)).at(-1)?.seq ?? 0;
    const args = ["-p", prompt, "--model", MODEL, ...(i > 0 ? ["--continue"] : [])];
    const r = await run(claude, args, { cwd: opts.dirs.work, env, timeoutMs: CALL_TIMEOUT_MS });
    const answer = r.stdout.trim();
    const ok = check(
      `${opts.label} turn ${i + 1}: claude ${i > 0 ? "--continue " : ""}exited 0 with an answer`,
      r.code === 0 && answer !== "",
      `${r.timedOut ? "timed out, " : ""}exit ${r.code ?? r.signal}, ${(r.ms / 1000).toFixed(1)} s${
        r.code === 0 && answer !== "" ? `: ${JSON.stringify(answer.split("\n")[0]?.slice(0, 80))}` : ""
      }${r.code !== 0 || answer === "" ? `\n${tail(r.stderr || r.stdout)}` : ""}`,
    );
    const fresh = (await simRequests(simUrl, opts.ns)).filter((q) => q.seq > seen);
    const isMain = (q: RecordedRequest) => {
      const body = bodyOf(q);
      return (
        q.path === "/anthropic/v1/messages" && body.model === MODEL && lastUserText(body).includes(prompt)
      );
    };
    conv.turns.push({ answer, main: fresh.filter(isMain), side: fresh.filter((q) => !isMain(q)) });
    if (!ok || interrupted()) break;
  }
  return conv;
}

// ---- report ----------------------------------------------------------------------------------------------

interface Usage {
  input: number;
  read: number;
  write: number;
  output: number;
}

function usageOf(reqs: RecordedRequest[]): Usage {
  const u = { input: 0, read: 0, write: 0, output: 0 };
  for (const q of reqs) {
    u.input += q.usage?.uncached ?? 0;
    u.read += q.usage?.read ?? 0;
    u.write += (q.usage?.write5m ?? 0) + (q.usage?.write1h ?? 0);
    u.output += q.usage?.output ?? 0;
  }
  return u;
}

function printTable(stoker: Conversation, base: Conversation): void {
  const w = 12;
  const cells = (t: Turn | undefined) => {
    if (!t) return "-".padStart(w).repeat(3);
    const u = usageOf(t.main);
    return [u.input, u.read, u.write].map((n) => String(n).padStart(w)).join("");
  };
  const head = ["input", "cache read", "cache write"].map((h) => h.padStart(w)).join("");
  console.log(`\nMain-model turns (${MODEL}), input tokens the simulator billed:`);
  console.log(`${"".padEnd(4)} |${"through Stoker".padStart(3 * w)} |${"baseline (direct)".padStart(3 * w)}`);
  console.log(`${"turn".padEnd(4)} |${head} |${head}`);
  for (let i = 0; i < PROMPTS.length; i++) {
    const [s, b] = [stoker.turns[i], base.turns[i]];
    const n = [s, b].map((t) => t?.main.length ?? 0);
    const note = n.some((k) => k !== 1) ? `  (main requests: ${n.join(" vs ")})` : "";
    console.log(`${String(i + 1).padEnd(4)} |${cells(s)} |${cells(b)}${note}`);
  }
  for (const conv of [stoker, base]) {
    const side = conv.turns.flatMap((t, i) => t.side.map((q) => ({ turn: i + 1, q })));
    console.log(`\nSide requests, ${conv.label} (namespace ${JSON.stringify(conv.ns)}): ${side.length}`);
    for (const { turn, q } of side) {
      const body = bodyOf(q);
      const u = usageOf([q]);
      console.log(
        `  turn ${turn}: ${q.method} ${q.path} model=${String(body.model)} max_tokens=${String(body.max_tokens)} status=${q.status} input=${u.input} read=${u.read} write=${u.write}`,
      );
    }
  }
}

// ---- main ------------------------------------------------------------------------------------------------

let stoker: Stoker | undefined;

async function main(): Promise<void> {
  const started = Date.now();
  reportTo({
    file: "claude-code.md",
    title: "Claude Code through Stoker",
    command: "npm run e2e:claude-code",
    setup: [
      `Claude Code ${CLAUDE_CODE_VERSION} (the npm package, installed into \`.cache/claude-code\`) runs a three-turn`,
      `session in print mode (\`claude -p\`, then \`--continue\`) with model ${MODEL}, once through Stoker under`,
      "`wrangler dev` and once straight at the provider simulator (the baseline), each in its own simulator",
      "namespace. The figures are what the simulator billed for the main-model request of each turn; Claude",
      "Code's own side requests (titles, quota checks) are listed apart.",
    ].join(" "),
  });
  const scratch = scratchDir("stoker-e2e-cc-");
  // Equal-length directory names ("stoker", "direct"): Claude Code puts its working directory in the prompt,
  // so both conversations have the same byte (hence token) counts.
  const runDirs = (name: string) => {
    const dirs = { home: join(scratch, name, "home"), work: join(scratch, name, "work") };
    const all = { ...dirs, tmp: join(scratch, name, "tmp") };
    for (const d of Object.values(all)) mkdirSync(d, { recursive: true });
    return all;
  };

  const claude = await ensureClaudeCode(scratch);
  check(`Claude Code ${CLAUDE_CODE_VERSION} runs`, true, claude.slice(ROOT.length + 1));

  const setupStarted = Date.now();
  const sim: Sim = await startSim();
  stoker = await startStoker({ simUrl: sim.url, persistTo: join(scratch, "persist") });
  check(
    "Stoker (wrangler dev) is up with the simulator as upstream",
    true,
    `${stoker.url}, ${secs(Date.now() - setupStarted)}`,
  );

  // Separate simulator namespaces, so the two conversations never share a prompt cache. The simulator picks
  // the namespace from `x-sim-namespace`, else the API key, else "default". Through Stoker (managed mode, no
  // provider key configured, simulator upstream) the upstream request carries no key: it lands in "default".
  // Straight at the simulator, Claude Code's key is the namespace: "sk-stoker-dev" (the same key both times,
  // as a user would configure it; it only names the namespace here and is never sent upstream by Stoker).
  const viaStoker = await converse(
    claude,
    { label: "Stoker", baseUrl: `${stoker.url}/anthropic`, ns: "default", dirs: runDirs("stoker") },
    sim.url,
  );
  const baseline = await converse(
    claude,
    { label: "baseline", baseUrl: `${sim.url}/anthropic`, ns: DEV_TENANT_KEY, dirs: runDirs("direct") },
    sim.url,
  );
  if (interrupted()) return;

  printTable(viaStoker, baseline);
  const stats = async (ns: string) => (await simStats(sim.url, ns)).anthropic;
  const [stokerStats, baseStats] = await Promise.all([stats(viaStoker.ns), stats(baseline.ns)]);
  for (const [conv, s] of [
    [viaStoker, stokerStats],
    [baseline, baseStats],
  ] as const) {
    console.log(
      `Simulator totals, ${conv.label}: ${s.requests} requests, ${s.errors} errors, input ${s.uncached_input_tokens}, cache read ${s.cache_read_input_tokens}, cache write ${s.cache_write_5m_input_tokens + s.cache_write_1h_input_tokens}, output ${s.output_tokens}`,
    );
  }
  console.log("");

  for (const conv of [viaStoker, baseline]) {
    const missing = PROMPTS.map((_, i) => i + 1).filter(
      (n) => !conv.turns[n - 1]?.main.some((q) => q.status === 200 && q.usage),
    );
    check(
      `${conv.label}: every turn reached the simulator as a ${MODEL} request answered 200`,
      missing.length === 0,
      missing.length ? `missing for turn ${missing.join(", ")}` : "",
    );
  }
  check(
    "no request failed at the simulator",
    stokerStats.errors === 0 && baseStats.errors === 0,
    `errors: Stoker ${stokerStats.errors}, baseline ${baseStats.errors}`,
  );

  // The Stoker conversation really went through the Worker, and the tenant key stayed in Stoker.
  const stokerAll = viaStoker.turns.flatMap((t) => [...t.main, ...t.side]);
  const baseAll = baseline.turns.flatMap((t) => [...t.main, ...t.side]);
  check(
    "Stoker's upstream requests came from the Worker (cf-worker header) and carried no tenant key",
    stokerAll.length > 0 &&
      stokerAll.every(
        (q) => "cf-worker" in q.headers && !("x-api-key" in q.headers || "authorization" in q.headers),
      ),
    `${stokerAll.length} requests`,
  );
  check(
    "the baseline went straight to the simulator",
    baseAll.length > 0 && baseAll.every((q) => !("cf-worker" in q.headers)),
    `${baseAll.length} requests`,
  );

  // Turns 2-3: the cache must be read at least as well through Stoker as without it.
  const later = (conv: Conversation) => usageOf(conv.turns.slice(1).flatMap((t) => t.main)).read;
  const tolerance = TOLERANCE_PER_TURN * (PROMPTS.length - 1);
  const [sRead, bRead] = [later(viaStoker), later(baseline)];
  const reads = (conv: Conversation) =>
    conv.turns.map((t) => usageOf(t.main).read.toLocaleString("en-US")).join(" / ");
  summarize(
    `Cache read tokens of the main-model request on turns 1 / 2 / 3: through Stoker ${reads(viaStoker)}; baseline (straight to the simulator) ${reads(baseline)}.`,
  );
  summarize(
    `Turns 2-3 together: Stoker read ${sRead.toLocaleString("en-US")}, the baseline ${bRead.toLocaleString("en-US")}.`,
  );
  check(
    "turns 2-3 read the cache through Stoker at least as well as without it",
    bRead > 0 && sRead >= bRead - tolerance,
    `cache read: Stoker ${sRead}, baseline ${bRead}, tolerance ${tolerance}`,
  );

  // Stoker passed Claude Code's request through: query string, beta header, breakpoints.
  const stokerMain = viaStoker.turns.flatMap((t) => t.main);
  check(
    "Stoker's requests to the simulator carried ?beta=true",
    stokerMain.length > 0 && stokerMain.every((q) => q.query.beta === "true"),
    stokerMain.map((q) => JSON.stringify(q.query)).join(" "),
  );
  const pairs = viaStoker.turns.map((t, i) => ({ s: t.main.at(-1), b: baseline.turns[i]?.main.at(-1) }));
  // Claude Code's betas (as it sends them straight to the provider) must all reach the simulator through Stoker.
  const betas = (q: RecordedRequest | undefined) =>
    (q?.headers["anthropic-beta"] ?? "").split(",").flatMap((b) => (b.trim() ? [b.trim()] : []));
  const missingBetas = pairs.flatMap(({ s, b }, i) => {
    const own = betas(b);
    if (own.length === 0) return [`turn ${i + 1}: no anthropic-beta to compare`];
    const forwarded = new Set(betas(s));
    return own.filter((x) => !forwarded.has(x)).map((x) => `turn ${i + 1}: ${x}`);
  });
  check(
    "Stoker's requests carried Claude Code's anthropic-beta header",
    pairs.length === PROMPTS.length && missingBetas.length === 0,
    missingBetas.length ? `missing: ${missingBetas.join("; ")}` : betas(pairs[0]?.s).join(","),
  );
  const lost: string[] = [];
  let count = 0;
  for (const [i, { s, b }] of pairs.entries()) {
    if (!s || !b) {
      lost.push(`turn ${i + 1}: no request to compare`);
      continue;
    }
    const own = breakpoints(bodyOf(b));
    const forwarded = breakpoints(bodyOf(s));
    count += own.size;
    if (own.size === 0) lost.push(`turn ${i + 1}: Claude Code sent no breakpoint`);
    for (const [path, value] of own) {
      if (forwarded.get(path) !== value) lost.push(`turn ${i + 1}: ${path}=${value}`);
    }
  }
  check(
    "Stoker's requests carried Claude Code's own cache_control breakpoints",
    pairs.length === PROMPTS.length && lost.length === 0,
    lost.length ? `lost: ${lost.join("; ")}` : `${count} breakpoints over ${pairs.length} turns`,
  );

  console.log(`\nTook ${secs(Date.now() - started)}.`);
}

await runMain(main, {
  onFailure: () => {
    if (stoker) console.log(`\nwrangler dev log (tail):\n${tail(stoker.log(), 40)}`);
  },
});

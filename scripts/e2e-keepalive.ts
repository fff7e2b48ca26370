// End-to-end check of keepalive, as a new user would run it: the official Anthropic SDK talks to Stoker
// (`wrangler dev --test-scheduled`), Stoker talks to the provider simulator (a separate process). A
// conversation pauses for 7 minutes after two quick turns; the minute cron, run at the time it would run,
// pings its cache entry before it lapses, and the third turn reads the cache. A control conversation with
// the same pause and no cron run rewrites it. Nobody waits: the simulator's clock is advanced per namespace
// and the cron runs at a chosen scheduled time.
//
//   npx node scripts/e2e-keepalive.ts
//
// Loopback only, about 10 s. Last line: `N passed, M failed`; the exit code is non-zero when anything failed.
//
// Time is simulated on the simulator's side and in the cron's scheduled time only: Stoker's tracker stamps
// requests with the real clock, so it sees every pause here as a few hundred milliseconds long.
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { modelInfo } from "../src/economics/models.ts";
import { check, interrupted, runMain, scratchDir, secs, sleep, tail } from "./lib/harness.ts";
import { bodyOf, type RecordedRequest, type Sim, simAdvanceTo, simRequests, startSim } from "./lib/sim.ts";
import {
  DEV_TENANT_KEY,
  logEvents,
  queryObjects,
  type Stoker,
  startStoker,
  triggerCron,
} from "./lib/stoker.ts";

const MODEL = "claude-sonnet-4-6";
const PRICE = modelInfo(MODEL, undefined, "anthropic");
/** An entry lapses this long after the start of the request that last read or wrote it. */
const TTL_MS = 300_000;
/** When the cron runs: 15 s before the entry lapses (a sweep pings what lapses within 20 s). */
const CRON_AFTER_MS = 285_000;
/** The user's pause after turn 2. */
const PAUSE_MS = 7 * 60_000;
/**
 * Turns of the earlier conversations of the family. Most went on after their second turn and one ended
 * there: the policy's "do users come back after two turns?" then has an answer, and not a one-sided one.
 * (With every earlier conversation ending after two turns, the policy rightly does not ping.)
 */
const HISTORY_TURNS = [3, 3, 3, 2];
/** Lets Stoker record a response in its tracker (after the response, via waitUntil) before the next step. */
const SETTLE_MS = 400;
/** How long a cron run may take to log its report. */
const CRON_LOG_TIMEOUT_MS = 10_000;

/** A support bot's long, stable system prompt: the family every conversation here belongs to. */
const SYSTEM = (() => {
  const lines = [
    "You are the support assistant of Spoke & Chain, a bicycle shop. Answer briefly and follow the handbook.",
  ];
  const topics = ["returns", "warranty", "shipping", "repairs", "payments", "rentals", "fitting", "events"];
  for (let i = 1; lines.join("\n").length < 13_000; i++) {
    const topic = topics[i % topics.length];
    lines.push(
      `Handbook ${i} (${topic}): when a customer asks about ${topic}, check the order, quote rule ${i} verbatim, ` +
        `offer the next step, and never promise dates the workshop has not confirmed.`,
    );
  }
  return lines.join("\n");
})();
/** The simulator's count: ceil(UTF-8 bytes / 4). */
const SYSTEM_TOKENS = Math.ceil(Buffer.byteLength(SYSTEM) / 4);

const QUESTIONS = [
  "My order arrived with a bent front wheel. What are my options?",
  "I would rather have it repaired. How long does that take?",
  "Fine. Can you send me the return label by email?",
];

// ---- conversations ---------------------------------------------------------------------------------------

interface Turn {
  n: number;
  /** Start of the request (epoch ms, this machine's clock, as Stoker's tracker stamps it). */
  startedAt: number;
  input: number;
  read: number;
  write: number;
  plan: string;
}

/** One conversation, in its own simulator namespace (cache, clock, recordings) through the SDK's header. */
class Conversation {
  readonly label: string;
  readonly ns: string;
  readonly turns: Turn[] = [];
  readonly #client: Anthropic;
  readonly #messages: Anthropic.MessageParam[] = [];

  constructor(stoker: Stoker, label: string, run: string) {
    this.label = label;
    this.ns = `${run}-${label}`;
    this.#client = new Anthropic({
      baseURL: `${stoker.url}/anthropic`,
      apiKey: DEV_TENANT_KEY,
      maxRetries: 0,
      timeout: 30_000,
      defaultHeaders: { "x-sim-namespace": this.ns },
    });
  }

  /** One turn; the first message names the conversation, so each is its own conversation to Stoker. */
  async say(question: string): Promise<Turn> {
    this.#messages.push({ role: "user", content: `${this.label}: ${question}` });
    const startedAt = Date.now();
    const { data, response } = await this.#client.messages
      .create({ model: MODEL, max_tokens: 64, system: SYSTEM, messages: [...this.#messages] })
      .withResponse();
    this.#messages.push({ role: "assistant", content: data.content });
    const u = data.usage;
    const turn: Turn = {
      n: this.turns.length + 1,
      startedAt,
      input: u.input_tokens,
      read: u.cache_read_input_tokens ?? 0,
      write: u.cache_creation_input_tokens ?? 0,
      plan: response.headers.get("x-stoker-plan") ?? "",
    };
    this.turns.push(turn);
    await sleep(SETTLE_MS);
    return turn;
  }

  /** Quick turns, as a user typing follow-ups sends them. */
  async quickTurns(n: number): Promise<void> {
    for (const q of QUESTIONS.slice(0, n)) await this.say(q);
  }

  last(): Turn {
    const t = this.turns.at(-1);
    if (!t) throw new Error(`${this.label} has no turn yet`);
    return t;
  }
}

// ---- cron and pings --------------------------------------------------------------------------------------

interface CronRun {
  outcomes: string[];
  /** The Worker's `keepalive.cron` log lines of these runs: tenants swept, pings sent, their cost. */
  reports: Record<string, unknown>[];
}

/** Runs the cron `n` times at once, all as of `timeMs`, and waits for the Worker's report lines. */
async function cron(stoker: Stoker, timeMs: number, n = 1): Promise<CronRun> {
  const before = logEvents(stoker, "keepalive.cron").length;
  const outcomes = await Promise.all(Array.from({ length: n }, () => triggerCron(stoker, timeMs)));
  const deadline = Date.now() + CRON_LOG_TIMEOUT_MS;
  let reports = logEvents(stoker, "keepalive.cron").slice(before);
  while (reports.length < n && Date.now() < deadline && !interrupted()) {
    await sleep(100);
    reports = logEvents(stoker, "keepalive.cron").slice(before);
  }
  return { outcomes, reports };
}

const pinged = (r: CronRun) => r.reports.reduce((a, x) => a + Number(x.pinged), 0);

const describeCron = (r: CronRun) =>
  r.outcomes
    .map((outcome, i) => {
      const x = r.reports[i];
      const report = x
        ? `tenants ${x.tenants}, pinged ${x.pinged}, $${Number(x.costUsd).toFixed(6)}, failures ${x.failures}`
        : "no keepalive.cron report logged";
      return `${outcome}; ${report}`;
    })
    .join(" | ");

/** The tracker's keepalive candidates of `convs` (state, why stopped, pings since the last real use). */
async function candidates(stoker: Stoker, convs: Conversation[]): Promise<string> {
  try {
    const rows = await queryObjects(stoker, "Tracker", "SELECT last_use, state, note, pings FROM keepalive");
    // A candidate's last use is the start of a real request: this script's clock, a few ms earlier.
    const labelOf = (at: number) =>
      convs.find((c) => c.turns.some((t) => Math.abs(t.startedAt - at) < 250))?.label;
    const shown = rows.flatMap((r) => {
      const label = labelOf(Number(r.last_use));
      return label ? [`${label} ${r.state}${r.note ? ` (${r.note})` : ""}, ${r.pings} ping(s)`] : [];
    });
    return shown.join("; ") || "no candidate";
  } catch (err) {
    return `not readable: ${err instanceof Error ? err.message : String(err)}`;
  }
}

interface Ping {
  ns: string;
  simTimeMs: number;
  read: number;
  status: number | null;
  credentials: boolean;
}

const isPing = (q: RecordedRequest) =>
  q.path.startsWith("/anthropic/v1/messages") && bodyOf(q).max_tokens === 0;

async function pingsIn(sim: Sim, convs: Conversation[]): Promise<Ping[]> {
  const perNs = await Promise.all(
    convs.map(async (c) => ({ ns: c.ns, reqs: await simRequests(sim.url, c.ns) })),
  );
  return perNs.flatMap(({ ns, reqs }) =>
    reqs.filter(isPing).map((q) => ({
      ns,
      simTimeMs: q.time_ms,
      read: q.usage?.read ?? 0,
      status: q.status,
      credentials: "x-api-key" in q.headers || "authorization" in q.headers,
    })),
  );
}

/** USD of `tokens` at `multiplier` times the model's input price. */
const usd = (tokens: number, multiplier: number) => (tokens * multiplier * PRICE.inputPerMTok) / 1e6;
const $ = (x: number) => `$${x.toFixed(6)}`;
const times = (m: number) => `${Number(m.toFixed(4))}x`;

// ---- report ----------------------------------------------------------------------------------------------

function printTurns(convs: Conversation[], origin: number): void {
  const w = 8;
  const head = ["turn", "at", "input", "read", "write"].map((h) => h.padStart(w)).join("");
  console.log(`\n${"conversation".padEnd(12)}${head}  x-stoker-plan`);
  for (const c of convs) {
    for (const t of c.turns) {
      const cells = [
        String(t.n),
        secs(t.startedAt - origin),
        String(t.input),
        String(t.read),
        String(t.write),
      ];
      console.log(`${c.label.padEnd(12)}${cells.map((x) => x.padStart(w)).join("")}  ${t.plan}`);
    }
  }
  console.log(
    [
      `("at": real seconds since the first request; the 7-minute pauses exist only on the simulator's clock.`,
      ` Each conversation has its own simulator namespace, so every turn 1 writes the system prompt that Stoker`,
      ` believes cached from the earlier conversations, as it would be at a provider caching per organization.)`,
    ].join("\n"),
  );
}

// ---- main ------------------------------------------------------------------------------------------------

let stoker: Stoker | undefined;

async function main(): Promise<void> {
  const started = Date.now();
  const scratch = scratchDir("stoker-e2e-ka-");
  const sim = await startSim();
  stoker = await startStoker({ simUrl: sim.url, persistTo: join(scratch, "persist"), testScheduled: true });
  check(
    "simulator and Stoker (wrangler dev --test-scheduled) are up",
    true,
    `${stoker.url}, ${secs(Date.now() - started)}`,
  );
  console.log(`System prompt: ${SYSTEM_TOKENS} tokens (simulator count); model ${MODEL}.`);
  const run = `ka${started.toString(36)}`;
  const origin = Date.now();

  // History: earlier conversations of the family, each with quick turns.
  const history = HISTORY_TURNS.map((_, i) => new Conversation(stoker as Stoker, `history-${i + 1}`, run));
  for (const [i, h] of history.entries()) await h.quickTurns(HISTORY_TURNS[i] ?? 2);
  const historyEnd = Math.max(...history.map((h) => h.last().startedAt));
  console.log(
    `\nHistory: ${history.length} conversations of ${HISTORY_TURNS.join(", ")} turns, in ${secs(historyEnd - origin)}.`,
  );
  // Their entries come due as well, and a deployment's cron would sweep them before C exists: the same
  // sweep here, as of the time it would run. It also teaches the family that these conversations stopped
  // coming back, at least for a while.
  const historySweep = historyEnd + CRON_AFTER_MS;
  const oldest = Math.min(...history.map((h) => h.last().startedAt));
  if (oldest + TTL_MS <= historySweep) {
    console.log(
      `  (history took over ${secs(TTL_MS - CRON_AFTER_MS)}: its oldest entries lapse before the sweep)`,
    );
  }
  for (const h of history) await simAdvanceTo(sim.url, h.ns, historySweep);
  const hRun = await cron(stoker, historySweep);
  const historyPings = await pingsIn(sim, history);
  console.log(`Cron at the history's last request + ${secs(CRON_AFTER_MS)}: ${describeCron(hRun)}.`);
  console.log(`  tracker: ${await candidates(stoker, history)}`);

  // Conversation C: two quick turns, a 7-minute pause, the cron running before its entry lapses.
  const c = new Conversation(stoker, "C", run);
  await c.quickTurns(2);
  const t2 = c.last().startedAt;
  await simAdvanceTo(sim.url, c.ns, t2 + CRON_AFTER_MS);
  // Two runs at once, as of the same time (a cron and an alarm can meet like this), then a third.
  const first = await cron(stoker, t2 + CRON_AFTER_MS, 2);
  console.log(`\nC: two cron runs at once at T2 + ${secs(CRON_AFTER_MS)}: ${describeCron(first)}.`);
  console.log(`  tracker: ${await candidates(stoker, [c])}`);
  const pingsBefore = (await pingsIn(sim, [...history, c])).length;
  const again = await cron(stoker, t2 + CRON_AFTER_MS);
  const pingsAfter = (await pingsIn(sim, [...history, c])).length;
  console.log(`C: a third run at the same time: ${describeCron(again)}.`);
  await simAdvanceTo(sim.url, c.ns, t2 + PAUSE_MS);
  const c3 = await c.say(QUESTIONS[2] as string);
  const cPings = await pingsIn(sim, [c]);

  // Control D: the same two turns and pause, no cron run.
  const d = new Conversation(stoker, "D", run);
  await d.quickTurns(2);
  await simAdvanceTo(sim.url, d.ns, d.last().startedAt + PAUSE_MS);
  const d3 = await d.say(QUESTIONS[2] as string);
  const dPings = await pingsIn(sim, [d]);
  if (interrupted()) return;

  printTurns([...history, c, d], origin);

  console.log("\nKeepalive pings the simulator received (max_tokens: 0):");
  for (const p of [...historyPings, ...cPings]) {
    const at =
      p.ns === c.ns ? `T2 + ${secs(p.simTimeMs - t2)}` : `history end + ${secs(p.simTimeMs - historyEnd)}`;
    console.log(
      `  ${p.ns.slice(run.length + 1).padEnd(10)} at ${at} (simulated), status ${p.status}, read ${p.read} tokens: ${$(usd(p.read, PRICE.cacheRead))}`,
    );
  }
  const ping = cPings[0];
  if (ping) {
    const pingUsd = usd(ping.read, PRICE.cacheRead);
    const avoided = usd(c3.read, PRICE.cacheWrite5m) - usd(c3.read, PRICE.cacheRead);
    console.log(
      [
        `\nC's 7-minute pause at $${PRICE.inputPerMTok}/MTok input (cache read ${times(PRICE.cacheRead)}, 5m write ${times(PRICE.cacheWrite5m)}):`,
        `  cost of the ping:  ${ping.read} tokens read = ${$(pingUsd)}`,
        `  rewrite avoided:   turn 3 read ${c3.read} tokens instead of writing them: ${$(usd(c3.read, PRICE.cacheWrite5m))} - ${$(usd(c3.read, PRICE.cacheRead))} = ${$(avoided)}`,
        `  net saving:        ${$(avoided - pingUsd)} (control D's turn 3 wrote ${d3.write} tokens: ${$(usd(d3.write, PRICE.cacheWrite5m))})`,
        `History pings: ${historyPings.length}, ${$(historyPings.reduce((a, p) => a + usd(p.read, PRICE.cacheRead), 0))} (those conversations had ended; nothing tells the tracker so).`,
      ].join("\n"),
    );
  }
  console.log("");

  check(
    "the history's later turns read the cache",
    history.every((h) => h.turns.slice(1).every((t) => t.read >= SYSTEM_TOKENS)),
    history.map((h) => `${h.label}: ${h.turns.map((t) => t.read).join("/")}`).join(", "),
  );
  const outcomes = [hRun, first, again].flatMap((r) => r.outcomes);
  check(
    "every cron run succeeded",
    outcomes.every((o) => o === "ok"),
    outcomes.join(", "),
  );
  check(
    "the cron before C's entry lapsed sent exactly one max_tokens: 0 ping in C's namespace, and it read the cache",
    cPings.length === 1 && ping?.status === 200 && ping.read >= SYSTEM_TOKENS,
    `${cPings.length} ping(s)${ping ? `, status ${ping.status}, read ${ping.read}` : ""}`,
  );
  check(
    "pings carried no credentials (managed mode with the simulator: no provider key, never the tenant key)",
    [...historyPings, ...cPings].every((p) => !p.credentials),
    `${historyPings.length + cPings.length} ping(s)`,
  );
  check(
    "two cron runs at the same time sent one ping between them",
    first.reports.length === 2 && pinged(first) === 1,
    `reported pinged: ${first.reports.map((r) => r.pinged).join(" + ")}`,
  );
  check(
    "a further run at the same time sends no second ping",
    again.reports.length === 1 && pinged(again) === 0 && pingsAfter === pingsBefore,
    `reported pinged ${pinged(again)}; pings at the simulator ${pingsBefore} before, ${pingsAfter} after`,
  );
  check(
    "C's turn 3 after 7 minutes read the cache",
    c3.read > SYSTEM_TOKENS,
    `cache_read_input_tokens ${c3.read} > system prompt ${SYSTEM_TOKENS}; wrote ${c3.write}`,
  );
  check(
    "control D's turn 3 after the same pause read nothing",
    d3.read === 0,
    `read ${d3.read}, wrote ${d3.write}`,
  );
  check("control D got no ping", dPings.length === 0, `${dPings.length} ping(s)`);

  console.log(`\nTook ${secs(Date.now() - started)}.`);
}

await runMain(main, {
  onFailure: () => {
    if (stoker) console.log(`\nwrangler dev log (tail):\n${tail(stoker.log(), 40)}`);
  },
});

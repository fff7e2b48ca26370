// End-to-end check of keepalive on one shared clock, as a new user would run it: the official Anthropic SDK
// talks to Stoker (`wrangler dev` with DEV_CLOCK=1), Stoker talks to the provider simulator (a separate
// process). Nobody waits: `POST /__dev/clock` moves the Worker's, its tracker's and the cron's clock, and
// the simulator's follows (`x-sim-now` on every upstream request and ping), so every pause below is a real
// pause to all of them.
//
// The policy learns from what it sees. Earlier conversations of a support bot's family pause after two
// quick turns; some users come back after 6 to 8 minutes, some never do. Then the measured conversation C
// of that family pauses 7 minutes: the clock is stepped to each of the tracker's keepalive deadlines (the
// dev route runs the cron there, which sweeps as the tracker's alarm would), the sweep before C's entry
// lapses pings it, and C's third turn reads the cache. Control D belongs to another family whose users
// never came back after their second turn: the same pause gets no ping, and its third turn rewrites.
// C's deadline is met by two cron runs at once and then a third (a cron meeting an alarm): one ping in all.
// E, in a chat family with the same returns but nothing pasted, shows what a ping buys when the conversation's
// own part is small. The tenant allows no 1h writes (`cache.allow1h: false`): since #14 a write's lasting is
// chosen between 5m, 5m held by pings and 1h, and with 1h allowed Stoker holds C (and hedges D) with a 1h
// write of its few new tokens instead of pinging; this scenario checks the pings.
//
//   npm run e2e:keepalive
//
// Loopback only, about a minute. Last line: `N passed, M failed`; the exit code is non-zero when anything
// failed. A run in which every check passed writes bench/report/keepalive-e2e.md.
import { createHash } from "node:crypto";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { modelInfo } from "../src/economics/models.ts";
import { check, interrupted, runMain, scratchDir, secs, sleep, tail } from "./lib/harness.ts";
import { reportTo, summarize } from "./lib/report.ts";
import { bodyOf, type RecordedRequest, type Sim, simRequests, startSim } from "./lib/sim.ts";
import {
  advanceClock,
  type CronReport,
  clockNow,
  DEV_TENANT_KEY,
  queryObjects,
  type Stoker,
  startStoker,
  trackerWake,
} from "./lib/stoker.ts";

const MODEL = "claude-sonnet-4-6";
const PRICE = modelInfo(MODEL, undefined, "anthropic");
const MIN = 60_000;
/** An entry lapses this long after the start of the request that last read or wrote it. */
const TTL_MS = 5 * MIN;
/** Between a user's quick turns. */
const TYPING_MS = 20_000;
/** A new conversation of the history starts this often (their pauses overlap, as real users' do). */
const START_EVERY_MS = 3 * MIN;
/**
 * The support bot's earlier conversations: minutes after turn 2 that each user sent turn 3, or null for a
 * user who never came back.
 */
const RETURNS_SUPPORT: (number | null)[] = [6, 7, null, 8, 6.5, null, 7.5, 7, null, 6];
/**
 * A chat family like the support bot, whose users paste nothing: a conversation's own part is a few dozen
 * tokens next to the shared head (E is measured there to show what a ping buys then).
 */
const RETURNS_CHAT: (number | null)[] = RETURNS_SUPPORT;
/** The control family's earlier conversations: nobody came back after turn 2. */
const RETURNS_CONTROL: (number | null)[] = [null, null, null, null, null, null];
/** After the history, the measured conversations start once everything is quiet. */
const QUIET_MS = 15 * MIN;
/** The measured pause after turn 2. */
const PAUSE_MS = 7 * MIN;
/** Lets Stoker record a response in its tracker (after the response, via waitUntil) before the clock moves. */
const SETTLE_MS = 400;
/** A guard against a clock that never reaches its target. */
const MAX_STEPS_PER_ADVANCE = 50;

/** A long, stable system prompt: what makes a family (every conversation of a bot shares it). */
function systemPrompt(shop: string, topics: string[]): string {
  const lines = [`You are the support assistant of ${shop}. Answer briefly and follow the handbook.`];
  for (let i = 1; lines.join("\n").length < 13_000; i++) {
    const topic = topics[i % topics.length];
    lines.push(
      `Handbook ${i} (${topic}): when a customer asks about ${topic}, check the order, quote rule ${i} verbatim, ` +
        `offer the next step, and never promise dates the workshop has not confirmed.`,
    );
  }
  return lines.join("\n");
}

interface Family {
  name: string;
  system: string;
  /** The simulator caches per namespace, as a provider caches per organization: one per family here. */
  ns: string;
  /** Whether its users paste their order history into turn 1. */
  pastes: boolean;
}

/** The simulator's count: ceil(UTF-8 bytes / 4). */
const simTokens = (text: string) => Math.ceil(Buffer.byteLength(text) / 4);

/**
 * What the customer pastes into turn 1 (~3,000 tokens of their order history): the part of a conversation's
 * prefix that is its own. The system prompt (the family's head) is shared; what a ping saves is the prefix a
 * lapse would lose (with 1h writes allowed, the head would have an hour-long entry of its own).
 */
function orderRecord(label: string): string {
  const lines = [`Order history of customer ${label}, pasted from the account page:`];
  for (let i = 1; lines.join("\n").length < 12_000; i++) {
    lines.push(
      `${label}/${1000 + i}: ${((i * 37) % 28) + 1} ${["March", "April", "May", "June"][i % 4]}, ${(i % 3) + 1} item(s), ` +
        `${["delivered", "returned", "repaired", "refunded"][(i * 7) % 4]}, ticket ${label}-${(i * 7919) % 10007}.`,
    );
  }
  return lines.join("\n");
}

const QUESTIONS = [
  "My order arrived with a bent front wheel. What are my options?",
  "I would rather have it repaired. How long does that take?",
  "Fine. Can you send me the return label by email?",
];

// ---- the shared clock ------------------------------------------------------------------------------------

interface Step {
  atMs: number;
  why: "deadline" | "target";
  cron: CronReport;
}

/** Stoker's shared clock, as this script moves it. */
class Clock {
  readonly steps: Step[] = [];
  readonly stoker: Stoker;
  #nowMs = 0;
  #readAt = 0;

  constructor(stoker: Stoker) {
    this.stoker = stoker;
  }

  async sync(): Promise<number> {
    this.#nowMs = await clockNow(this.stoker);
    this.#readAt = Date.now();
    return this.#nowMs;
  }

  /** The shared time now: between moves it runs with the wall clock. */
  now(): number {
    return this.#nowMs + (Date.now() - this.#readAt);
  }

  async #step(toMs: number, why: Step["why"]): Promise<void> {
    const r = await advanceClock(this.stoker, toMs - this.now());
    this.#nowMs = r.now_ms;
    this.#readAt = Date.now();
    this.steps.push({ atMs: r.now_ms, why, cron: r.cron });
  }

  /**
   * Moves the clock to `targetMs`, stopping at each keepalive deadline of the tracker on the way (its alarm
   * would fire there; the step's cron run sweeps instead), as the deployment's alarms and cron would.
   */
  async advanceTo(targetMs: number): Promise<void> {
    for (let i = 0; i < MAX_STEPS_PER_ADVANCE && !interrupted(); i++) {
      const wake = await trackerWake(this.stoker);
      if (wake === null || wake <= this.now() || wake >= targetMs) break;
      await this.#step(wake, "deadline");
    }
    if (targetMs > this.now()) await this.#step(targetMs, "target");
  }

  /**
   * At the tracker's next deadline, two cron runs at once (from `ms` before it, each moves the clock by `ms`,
   * so both run at or just after the deadline), then a third: what a cron meeting an alarm looks like.
   */
  async raceAtNextDeadline(ms = 1_000): Promise<{ together: CronReport[]; again: CronReport } | null> {
    const wake = await trackerWake(this.stoker);
    if (wake === null || wake <= this.now() + ms) return null;
    await this.advanceTo(wake - ms);
    const together = await Promise.all([0, 1].map(() => advanceClock(this.stoker, ms)));
    const again = await advanceClock(this.stoker, 0);
    for (const r of [...together, again]) this.steps.push({ atMs: r.now_ms, why: "deadline", cron: r.cron });
    this.#nowMs = Math.max(...[...together, again].map((r) => r.now_ms));
    this.#readAt = Date.now();
    return { together: together.map((r) => r.cron), again: again.cron };
  }
}

// ---- conversations ---------------------------------------------------------------------------------------

interface Turn {
  n: number;
  /** Start of the request on the shared clock. */
  atMs: number;
  input: number;
  read: number;
  write: number;
  /** Of `write`, what was written with the 1h TTL. */
  write1h: number;
  plan: string;
}

/** One conversation; its first message names it, so each is its own conversation to Stoker. */
class Conversation {
  readonly turns: Turn[] = [];
  readonly #client: Anthropic;
  readonly #messages: Anthropic.MessageParam[] = [];

  readonly label: string;
  readonly family: Family;
  readonly clock: Clock;
  /** Minutes after turn 2 that the user sends turn 3 (null: never). */
  readonly returnsAfterMin: number | null;

  constructor(label: string, family: Family, clock: Clock, returnsAfterMin: number | null) {
    this.label = label;
    this.family = family;
    this.clock = clock;
    this.returnsAfterMin = returnsAfterMin;
    this.#client = new Anthropic({
      baseURL: `${clock.stoker.url}/anthropic`,
      apiKey: DEV_TENANT_KEY,
      maxRetries: 0,
      timeout: 30_000,
      defaultHeaders: { "x-sim-namespace": family.ns },
    });
  }

  async say(question: string): Promise<Turn> {
    const pasted = this.family.pastes && this.#messages.length === 0 ? `\n\n${orderRecord(this.label)}` : "";
    this.#messages.push({ role: "user", content: `${this.label}: ${question}${pasted}` });
    const atMs = this.clock.now();
    const { data, response } = await this.#client.messages
      .create({ model: MODEL, max_tokens: 64, system: this.family.system, messages: [...this.#messages] })
      .withResponse();
    this.#messages.push({ role: "assistant", content: data.content });
    const u = data.usage;
    const turn: Turn = {
      n: this.turns.length + 1,
      atMs,
      input: u.input_tokens,
      read: u.cache_read_input_tokens ?? 0,
      write: u.cache_creation_input_tokens ?? 0,
      write1h: u.cache_creation?.ephemeral_1h_input_tokens ?? 0,
      plan: response.headers.get("x-stoker-plan") ?? "",
    };
    this.turns.push(turn);
    await sleep(SETTLE_MS);
    return turn;
  }

  turn(n: number): Turn {
    const t = this.turns[n - 1];
    if (!t) throw new Error(`${this.label} has no turn ${n}`);
    return t;
  }
}

/** A turn to send at a time (ms after the scenario's start). */
interface Event {
  atMs: number;
  conv: Conversation;
}

/** Turn 1, turn 2 after TYPING_MS, and turn 3 when (if) the user comes back. */
function eventsOf(conv: Conversation, startMs: number): Event[] {
  const t2 = startMs + TYPING_MS;
  const out = [
    { atMs: startMs, conv },
    { atMs: t2, conv },
  ];
  if (conv.returnsAfterMin !== null) out.push({ atMs: t2 + conv.returnsAfterMin * MIN, conv });
  return out;
}

// ---- what the simulator and the tracker saw --------------------------------------------------------------

interface Ping {
  label: string;
  atMs: number;
  read: number;
  write: number;
  status: number | null;
  credentials: boolean;
}

const isMessages = (q: RecordedRequest) => q.path.startsWith("/anthropic/v1/messages");
const isPing = (q: RecordedRequest) => isMessages(q) && bodyOf(q).max_tokens === 0;

/** The conversation a request belongs to: its first message starts with the conversation's label. */
function labelOf(q: RecordedRequest): string {
  const first = (bodyOf(q).messages as { content?: unknown }[] | undefined)?.[0]?.content;
  const text =
    typeof first === "string"
      ? first
      : Array.isArray(first)
        ? String((first[0] as { text?: unknown } | undefined)?.text ?? "")
        : "";
  return text.split(":")[0] ?? "";
}

async function pingsIn(sim: Sim, families: Family[]): Promise<Ping[]> {
  const all = await Promise.all(families.map((f) => simRequests(sim.url, f.ns)));
  return all.flat().flatMap((q) =>
    isPing(q)
      ? [
          {
            label: labelOf(q),
            atMs: q.time_ms,
            read: q.usage?.read ?? 0,
            write: (q.usage?.write5m ?? 0) + (q.usage?.write1h ?? 0),
            status: q.status,
            credentials: "x-api-key" in q.headers || "authorization" in q.headers,
          },
        ]
      : [],
  );
}

/** The simulator's time of each of a conversation's real requests (its namespace clock). */
async function simTurnTimes(sim: Sim, conv: Conversation): Promise<number[]> {
  const reqs = await simRequests(sim.url, conv.family.ns);
  return reqs.filter((q) => isMessages(q) && !isPing(q) && labelOf(q) === conv.label).map((q) => q.time_ms);
}

interface KeptRow {
  lastUse: number;
  state: string;
  note: string;
  pings: number;
}

/** The tracker's keepalive row of each conversation (matched by its last real use, a turn's start). */
async function keptRows(stoker: Stoker, convs: Conversation[]): Promise<Map<string, KeptRow>> {
  const rows = await queryObjects(stoker, "Tracker", "SELECT last_use, state, note, pings FROM keepalive");
  const out = new Map<string, KeptRow>();
  for (const r of rows) {
    const lastUse = Number(r.last_use);
    // The closest turn start: two turns can be due at the same scheduled time, one after the other.
    let conv: Conversation | undefined;
    let best = 1_000;
    for (const c of convs) {
      for (const t of c.turns) {
        const off = Math.abs(t.atMs - lastUse);
        if (off < best) [conv, best] = [c, off];
      }
    }
    if (conv)
      out.set(conv.label, {
        lastUse,
        state: String(r.state),
        note: r.note === null ? "" : String(r.note),
        pings: Number(r.pings),
      });
  }
  return out;
}

// ---- money -----------------------------------------------------------------------------------------------

/** USD of `tokens` at `multiplier` times the model's input price. */
const usd = (tokens: number, multiplier: number) => (tokens * multiplier * PRICE.inputPerMTok) / 1e6;
const $ = (x: number) => `${x < 0 ? "-" : ""}$${Math.abs(x).toFixed(5)}`;
const times = (m: number) => `${Number(m.toFixed(4))}x`;
const n = (x: number) => x.toLocaleString("en-US");
const mmss = (ms: number) => {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
};

// ---- report ----------------------------------------------------------------------------------------------

function printTurns(convs: Conversation[], origin: number, kept: Map<string, KeptRow>): void {
  const w = 8;
  const head = ["turn", "at", "gap", "input", "read", "write"].map((h) => h.padStart(w)).join("");
  console.log(`\n${"conversation".padEnd(14)}${"family".padEnd(9)}${head}  x-stoker-plan`);
  for (const c of convs) {
    for (const t of c.turns) {
      const prev = c.turns[t.n - 2];
      const cells = [
        String(t.n),
        mmss(t.atMs - origin),
        prev ? mmss(t.atMs - prev.atMs) : "",
        String(t.input),
        String(t.read),
        String(t.write),
      ];
      console.log(
        `${c.label.padEnd(14)}${c.family.name.padEnd(9)}${cells.map((x) => x.padStart(w)).join("")}  ${t.plan}`,
      );
    }
    const k = kept.get(c.label);
    const fate = c.returnsAfterMin === null ? "never came back" : `came back after ${c.returnsAfterMin} min`;
    console.log(
      `${"".padEnd(23)}(${fate}; tracker: ${k ? `${k.state}${k.note ? ` (${k.note})` : ""}, ${k.pings} ping(s) since its last use` : "no keepalive row"})`,
    );
  }
  console.log(
    '("at": minutes:seconds on the shared clock since the first request; "gap": since the previous turn.)',
  );
}

// ---- main ------------------------------------------------------------------------------------------------

let stoker: Stoker | undefined;

async function main(): Promise<void> {
  const started = Date.now();
  reportTo({
    file: "keepalive-e2e.md",
    title: "Keepalive end to end, on one shared clock",
    command: "npm run e2e:keepalive",
    setup: [
      "The official Anthropic SDK talks to Stoker under `wrangler dev` with `DEV_CLOCK=1`; Stoker talks to the",
      "provider simulator (a separate process). `POST /__dev/clock` moves the Worker's, the tracker's and the",
      "cron's clock and runs the cron at the new time; the simulator's clock follows through `x-sim-now`, so",
      "every pause is a real pause to Stoker, its tracker and the simulator, and nobody waits. The script moves",
      "the clock to each keepalive sweep the tracker has due (its earliest live deadline less the ping's lead) and",
      `then to the next turn. The support bot's earlier conversations pause after two quick turns (${TYPING_MS / 1000} s`,
      `apart); ${RETURNS_SUPPORT.filter((r) => r !== null).length} of ${RETURNS_SUPPORT.length} users come back after 6 to 8 minutes, the others never. The`,
      `control family's ${RETURNS_CONTROL.length} earlier users never come back after turn 2. In both, users paste ~3,000 tokens of`,
      "their order history into turn 1. A third, chat family has the support bot's returns and nothing pasted.",
      `Then conversations C (support bot), D (control) and E (chat) pause ${PAUSE_MS / MIN} minutes after turn 2. Prices: ${MODEL} at $${PRICE.inputPerMTok}/MTok input,`,
      `cache read ${times(PRICE.cacheRead)}, 5m write ${times(PRICE.cacheWrite5m)}.`,
    ].join(" "),
  });
  const scratch = scratchDir("stoker-e2e-ka-");
  const sim = await startSim();
  // The scenario is about keepalive pings: its tenant does not allow Anthropic 1h writes, else Stoker holds a
  // conversation whose users come back after 6-8 minutes with a 1h write instead (issue #14's lasting choice).
  const keyHash = createHash("sha256").update(DEV_TENANT_KEY).digest("hex");
  stoker = await startStoker({
    simUrl: sim.url,
    persistTo: join(scratch, "persist"),
    devClock: true,
    vars: { TENANTS: JSON.stringify([{ id: "dev", key_sha256: keyHash, cache: { allow1h: false } }]) },
  });
  check(
    "simulator and Stoker (wrangler dev, DEV_CLOCK=1) are up",
    true,
    `${stoker.url}, ${secs(Date.now() - started)}`,
  );
  const clock = new Clock(stoker);
  const run = `ka${started.toString(36)}`;
  const support: Family = {
    name: "support",
    system: systemPrompt("Spoke & Chain, a bicycle shop", ["returns", "warranty", "shipping", "repairs"]),
    ns: `${run}-support`,
    pastes: true,
  };
  const control: Family = {
    name: "control",
    system: systemPrompt("Wheel & Deal, a scooter shop", ["orders", "batteries", "delivery", "servicing"]),
    ns: `${run}-control`,
    pastes: true,
  };
  const chat: Family = {
    name: "chat",
    system: systemPrompt("Gear & Gadget, a camera shop", ["lenses", "sensors", "tripods", "trade-ins"]),
    ns: `${run}-chat`,
    pastes: false,
  };
  console.log(
    `System prompts: support ${simTokens(support.system)} tokens, control ${simTokens(control.system)}, chat ${simTokens(chat.system)} (simulator count); model ${MODEL}.`,
  );

  // The history: staggered conversations of both families, their pauses overlapping.
  const history = [
    ...RETURNS_SUPPORT.map((r, i) => new Conversation(`support-${i + 1}`, support, clock, r)),
    ...RETURNS_CONTROL.map((r, i) => new Conversation(`control-${i + 1}`, control, clock, r)),
    ...RETURNS_CHAT.map((r, i) => new Conversation(`chat-${i + 1}`, chat, clock, r)),
  ];
  const origin = (await clock.sync()) + 1_000;
  const events: Event[] = [
    ...history
      .filter((c) => c.family === support)
      .flatMap((c, i) => eventsOf(c, origin + i * START_EVERY_MS)),
    ...history
      .filter((c) => c.family === control)
      .flatMap((c, i) => eventsOf(c, origin + i * START_EVERY_MS + START_EVERY_MS / 2)),
    ...history
      .filter((c) => c.family === chat)
      .flatMap((c, i) => eventsOf(c, origin + i * START_EVERY_MS + START_EVERY_MS / 4)),
  ];
  const historyEnd = Math.max(...events.map((e) => e.atMs));
  // The measured conversations, once the history is over and every entry of it has lapsed or stopped.
  const c = new Conversation("C", support, clock, PAUSE_MS / MIN);
  const d = new Conversation("D", control, clock, PAUSE_MS / MIN);
  const measuredStart = historyEnd + QUIET_MS;
  const e = new Conversation("E", chat, clock, PAUSE_MS / MIN);
  events.push(
    ...eventsOf(c, measuredStart),
    ...eventsOf(d, measuredStart + 5_000),
    ...eventsOf(e, measuredStart + 10_000),
  );
  events.sort((a, b) => a.atMs - b.atMs);

  // What the tracker decided for C and D during their pause, read just before each one's turn 3.
  const beforeReturn = new Map<string, KeptRow>();
  let race: Awaited<ReturnType<Clock["raceAtNextDeadline"]>> = null;
  let racePings = { before: 0, after: 0 };
  for (const ev of events) {
    if (interrupted()) return;
    // C's deadline (the next one after its turn 2) is met by two cron runs at once, then a third.
    if (ev.conv === c && c.turns.length === 2 && race === null) {
      race = await clock.raceAtNextDeadline();
      const before = (await pingsIn(sim, [support])).length;
      await advanceClock(stoker, 0);
      racePings = { before, after: (await pingsIn(sim, [support])).length };
    }
    await clock.advanceTo(ev.atMs);
    if ((ev.conv === c || ev.conv === d || ev.conv === e) && ev.conv.turns.length === 2) {
      const row = (await keptRows(stoker, [ev.conv])).get(ev.conv.label);
      if (row) beforeReturn.set(ev.conv.label, row);
    }
    await ev.conv.say(QUESTIONS[ev.conv.turns.length] as string);
  }
  if (interrupted()) return;

  const all = [...history, c, d, e];
  const pings = await pingsIn(sim, [support, control, chat]);
  const kept = await keptRows(stoker, all);
  printTurns(all, origin, kept);
  const decided = (label: string) => {
    const r = beforeReturn.get(label);
    return r ? `${r.state}${r.note ? ` (${r.note})` : ""}, ${r.pings} ping(s)` : "no keepalive row";
  };
  console.log(`Tracker just before turn 3: C ${decided("C")}; D ${decided("D")}; E ${decided("E")}.`);

  const steps = clock.steps;
  const cronPinged = steps.reduce((a, s) => a + s.cron.pinged, 0);
  const cronFailures = steps.reduce((a, s) => a + s.cron.failures, 0);
  console.log(
    `\nClock: ${steps.length} steps over ${mmss(clock.now() - origin)} of shared time (${steps.filter((s) => s.why === "deadline").length} at a keepalive deadline); the cron they ran pinged ${cronPinged} time(s), ${cronFailures} failure(s), $${steps.reduce((a, s) => a + s.cron.costUsd, 0).toFixed(6)}.`,
  );
  console.log("\nKeepalive pings the simulator received (max_tokens: 0):");
  for (const p of pings) {
    const conv = all.find((x) => x.label === p.label);
    const last = conv?.turns.filter((t) => t.atMs < p.atMs).at(-1);
    console.log(
      `  ${p.label.padEnd(12)} ${last ? `turn ${last.n} + ${mmss(p.atMs - last.atMs)}` : "?"}, status ${p.status}, read ${p.read}, wrote ${p.write}: ${$(usd(p.read, PRICE.cacheRead))}`,
    );
  }
  if (pings.length === 0) console.log("  none");

  // The measured pair.
  const [c1, c2, c3, d1, d3] = [c.turn(1), c.turn(2), c.turn(3), d.turn(1), d.turn(3)];
  const cPings = pings.filter((p) => p.label === "C");
  const dPings = pings.filter((p) => p.label === "D");
  const ping = cPings[0];
  const pingUsd = ping ? usd(ping.read, PRICE.cacheRead) : 0;
  // Without the ping, turn 3 would still have read the family's head: turn 1 wrote it for the hour (a 1h
  // entry, which the ping need not hold). What the ping saved is the rest of the prefix, which turn 3 would
  // otherwise have rewritten (as control D's turn 3 did).
  const cHead = c1.write1h;
  const saved = Math.max(0, c3.read - cHead);
  const rewriteUsd = usd(saved, PRICE.cacheWrite5m);
  const avoided = rewriteUsd - usd(saved, PRICE.cacheRead);
  const dRewrite = usd(d3.write, PRICE.cacheWrite5m);
  // E, in the chat family (nothing pasted): the same accounting.
  const [e1, e3] = [e.turn(1), e.turn(3)];
  const ePings = pings.filter((p) => p.label === "E");
  const ePingUsd = ePings.reduce((a, p) => a + usd(p.read, PRICE.cacheRead), 0);
  const eSaved = ePings.length > 0 ? Math.max(0, e3.read - e1.write1h) : 0;
  const eAvoided = usd(eSaved, PRICE.cacheWrite5m) - usd(eSaved, PRICE.cacheRead);
  console.log(
    [
      `\nC's ${PAUSE_MS / MIN}-minute pause at $${PRICE.inputPerMTok}/MTok input (cache read ${times(PRICE.cacheRead)}, 5m write ${times(PRICE.cacheWrite5m)}):`,
      `  cost of the ping:  ${ping ? `${ping.read} tokens read at turn 2 + ${mmss(ping.atMs - c2.atMs)} = ${$(pingUsd)}` : "no ping"}`,
      `  turn 3 read:       ${c3.read} tokens, of which ${cHead} were held by a 1h entry turn 1 wrote (no ping needed for those)`,
      `  rewrite avoided:   the other ${saved} tokens read instead of written: ${$(rewriteUsd)} - ${$(usd(saved, PRICE.cacheRead))} = ${$(avoided)}`,
      `  net saving:        ${$(avoided - pingUsd)}`,
      `Control D's same pause: ${dPings.length} ping(s); turn 3 read ${d3.read} tokens (turn 1 wrote ${d1.write1h} at 1h) and rewrote ${d3.write}: ${$(dRewrite)}.`,
      `E (chat family, nothing pasted), the same pause: ${ePings.length} ping(s) reading ${ePings.map((p) => p.read).join(", ") || 0} tokens (${$(ePingUsd)}); turn 3 read ${e3.read} tokens, ${e1.write1h} of them the head's 1h entry; the ping saved rewriting ${eSaved}: ${$(eAvoided)}, net ${$(eAvoided - ePingUsd)}.`,
    ].join("\n"),
  );
  const supportHistory = history.filter((h) => h.family === support);
  const historyPings = pings.filter((p) => p.label.includes("-"));
  const historyPingUsd = historyPings.reduce((a, p) => a + usd(p.read, PRICE.cacheRead), 0);
  const returned = supportHistory.filter((h) => h.turns.length === 3);
  // A return read its own conversation when it read more than the head and the order record it pasted.
  const own = (h: Conversation) =>
    simTokens(h.family.system) + (h.family.pastes ? simTokens(orderRecord(h.label)) : 0);
  const returnsRead = returned.filter((h) => h.turn(3).read >= own(h));
  const pingedNever = new Set(
    historyPings
      .filter((p) => supportHistory.some((h) => h.label === p.label && h.returnsAfterMin === null))
      .map((p) => p.label),
  );
  console.log(
    `History (support, control and chat): ${historyPings.length} ping(s), ${$(historyPingUsd)}; ${returnsRead.length} of the ${returned.length} support users who came back read their conversation's cache; ${pingedNever.size} of the ${supportHistory.length - returned.length} who never came back were pinged.`,
  );
  console.log("");

  summarize(
    `**C** (support bot, after ${supportHistory.length} earlier conversations of which ${returned.length} came back after 6-8 min): paused ${PAUSE_MS / MIN} min after turn 2; ${cPings.length} ping, at turn 2 + ${ping ? mmss(ping.atMs - c2.atMs) : "-"}, reading **${n(ping?.read ?? 0)}** tokens (**${$(pingUsd)}**); turn 3 read **${n(c3.read)}** tokens, ${n(cHead)} of them the family's head ${cHead > 0 ? "(held for the hour by a 1h entry anyway)" : "(this tenant allows no 1h entry, so the ping holds the head too)"}, so the ping saved rewriting **${n(saved)}** tokens: **${$(rewriteUsd)}** of writes replaced by ${$(usd(saved, PRICE.cacheRead))} of reads, net ${$(avoided - pingUsd)} after the ping.`,
  );
  summarize(
    `**Control D** (a family whose ${RETURNS_CONTROL.length} earlier users never came back after turn 2): the same pause, ${dPings.length} pings (tracker just before turn 3: ${decided("D")}); turn 3 read ${n(d3.read)} tokens${d1.write1h > 0 ? " (the head's 1h entry)" : ""} and rewrote ${n(d3.write)} (${$(dRewrite)}).`,
  );
  summarize(
    `The history (support, control and chat): ${historyPings.length} pings (${$(historyPingUsd)}); ${returnsRead.length} of the ${returned.length} support users who came back read their own conversation's cache; ${pingedNever.size} of the ${supportHistory.length - returned.length} who never came back were pinged.`,
  );
  summarize(
    `**E** (a chat family with the support bot's returns, whose users paste nothing): the same pause, ${ePings.length} ping(s) reading ${n(ePings.reduce((x, p) => x + p.read, 0))} tokens (${$(ePingUsd)}) to save rewriting ${n(eSaved)} (${$(eAvoided)}): net **${$(eAvoided - ePingUsd)}**. The keepalive decision (src/decide/keepalive.ts) values a ping by the rewrite of what a lapse would lose (the candidate's \`exposed\` tokens: all of the prefix here, as this tenant allows no 1h entry; where the head has its own 1h entry that outlives the pause, only the conversation beyond it), against a read of the whole prefix: a sure return pays for the ping only while that part is over ${((100 * PRICE.cacheRead) / (PRICE.cacheWrite5m - PRICE.cacheRead)).toFixed(1)} % of the prefix (the share the ping saved here: C ${((100 * saved) / Math.max(1, ping?.read ?? 1)).toFixed(0)} %, E ${((100 * eSaved) / Math.max(1, ePings[0]?.read ?? 1)).toFixed(0)} %).`,
  );

  check(
    "every quick turn 2 read its family's head (turn 1 wrote none of the pasted record: a first turn may be the last)",
    all.every((h) => h.turn(2).read >= simTokens(h.family.system)),
    all.map((h) => h.turn(2).read).join("/"),
  );
  check(
    "every clock step's cron run succeeded",
    steps.length > 0 && cronFailures === 0,
    `${steps.length} steps, ${cronFailures} failures`,
  );
  const simTimes = await simTurnTimes(sim, c);
  const simPause = (simTimes[2] ?? 0) - (simTimes[1] ?? 0);
  const keptC = kept.get("C");
  check(
    "Stoker, its tracker and the simulator all saw C's pause as 7 minutes",
    Math.abs(c3.atMs - c2.atMs - PAUSE_MS) < 5_000 &&
      Math.abs(simPause - PAUSE_MS) < 5_000 &&
      keptC !== undefined &&
      Math.abs(keptC.lastUse - c3.atMs) < 1_000,
    `shared clock ${mmss(c3.atMs - c2.atMs)}, simulator ${mmss(simPause)}, tracker's last use of C = turn 3's start: ${keptC ? keptC.lastUse - c3.atMs : "?"} ms apart`,
  );
  check(
    "C got exactly one ping, before its entry lapsed, and it read the cache",
    cPings.length === 1 &&
      ping !== undefined &&
      ping.status === 200 &&
      ping.read >= own(c) &&
      ping.atMs - c2.atMs < TTL_MS,
    `${cPings.length} ping(s)${ping ? `, at turn 2 + ${mmss(ping.atMs - c2.atMs)}, status ${ping.status}, read ${ping.read}` : ""}`,
  );
  check(
    "C's turn 3 after 7 minutes read its whole conversation",
    c3.read >= own(c) && c3.write < c3.read - cHead,
    `read ${c3.read} (head + order record ${own(c)}), wrote ${c3.write}`,
  );
  const pingedOf = (rs: CronReport[]) => rs.reduce((a, r) => a + r.pinged, 0);
  check(
    "two cron runs at once at C's deadline sent one ping between them; runs at the same time after that sent none",
    race !== null &&
      pingedOf(race.together) === 1 &&
      race.again.pinged === 0 &&
      racePings.after === racePings.before,
    race
      ? `reported pinged ${race.together.map((r) => r.pinged).join(" + ")}, then ${race.again.pinged}; pings at the simulator ${racePings.before} before a fourth run, ${racePings.after} after`
      : "no deadline after C's turn 2",
  );
  check("control D got no ping", dPings.length === 0, `${dPings.length} ping(s); tracker: ${decided("D")}`);
  check(
    "control D's turn 3 after the same pause read at most its family's head and rewrote its conversation",
    d3.read <= simTokens(control.system) && d3.write >= simTokens(orderRecord(d.label)),
    `read ${d3.read} (head ${simTokens(control.system)}), wrote ${d3.write}`,
  );
  check(
    "pings carried no credentials (managed mode with the simulator: no provider key, never the tenant key)",
    pings.every((p) => !p.credentials),
    `${pings.length} ping(s)`,
  );

  console.log(`\nTook ${secs(Date.now() - started)}.`);
}

await runMain(main, {
  onFailure: () => {
    if (stoker) console.log(`\nwrangler dev log (tail):\n${tail(stoker.log(), 40)}`);
  },
});

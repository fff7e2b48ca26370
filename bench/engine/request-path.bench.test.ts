// CPU time of Stoker's own work on a request inside workerd, as the worker runs it: the overhead benchmark's
// bodies (bench/overhead/bodies.ts: tools, a long system prompt, an agent conversation whose tool calls carry
// arguments in the model's key order), the body read and parsed by the route's own reader, `prepare` with
// the plan inputs this isolate holds (planLookup: what earlier turns' outcomes taught it through
// learnOutcome, as after a response), the bytes that go upstream, and after the response the record built
// and learned from. The engine table (engine.bench.test.ts) times analyze, plan and render alone on bodies
// of its own, without state; this one is what a request costs. workerd's clock ticks in whole milliseconds:
// each phase's time is summed over a batch of requests (a tick falls in a phase in proportion to its
// length) and each sample is a batch's mean per request.

import { it } from "vitest";
import { readRequestBody } from "../../src/edge/body.ts";
import { flattenJoined, keepParsed, noteScan } from "../../src/edge/body-memo.ts";
import { keepaliveCapture } from "../../src/edge/capture.ts";
import { toRecord } from "../../src/edge/record.ts";
import { learnOutcome } from "../../src/tracker/client-cache.ts";
import { diagnosticsField } from "../../src/upstream/diagnostics.ts";
import type { Outcome } from "../../src/upstream/outcome.ts";
import { bodyFactory, openingFactory, type Upstream } from "../overhead/bodies.ts";
import { config, prepareAsWorker, requestOf } from "./as-worker.ts";
import { PATH_TITLE } from "./tables.ts";

const SIZES = (process.env.BENCH_SIZES ?? "2000,20000,100000,200000").split(",").map(Number);
const SAMPLES = 40;
const WARMUP = 20;
/** Before any group is timed, every group of up to WARM_TOKENS runs this long on a tenant of its own: the
 * first group timed would otherwise run code V8 has not optimized yet (measured: Anthropic 2K later turns
 * 0.228 ms timed first, 0.135 timed after OpenAI's groups). A worker's isolate serves many requests. */
const WARM_MS = 300;
/** Larger groups are not warmed: their own warm-up runs the same code over long bodies, and warming them
 * would leave megabytes of kept bodies in the isolate for every later group's collector (one pair of runs
 * measured 200K first requests at 7.9-8.5 ms with every group warmed, 6.5 with none; within the spread of
 * this machine's runs, 4.7-9.8 ms, but not a cost to take for nothing). */
const WARM_TOKENS = 20_000;
/** Each sample spans about this long, so that whole-millisecond ticks resolve a phase (as engine.bench.test.ts). */
const SAMPLE_MS = 50;
/**
 * Each group first runs its own requests this long, untimed: the collector's work that the groups before it
 * left (their kept bodies and checkpoints, evicted by this group's) is done before its timing starts. Without
 * it, a group timed right after another kind's measured up to twice as long (the 100K openings' read 0.99 ms
 * after the 200K first requests, 0.27 ms with it).
 */
const SETTLE_MS = 1000;
const PHASES = ["read", "prepare", "send", "record"] as const;
type Phase = (typeof PHASES)[number];

/** One request through the worker's own functions; returns each phase's milliseconds (clock ticks). */
async function oneRequest(upstream: Upstream, tenantId: string, bytes: Uint8Array, at: number) {
  const endpoint = upstream === "anthropic" ? "messages" : "chat.completions";
  const req = requestOf(bytes);
  const t0 = performance.now();
  const read = await readRequestBody(req, config.maxBodyBytes, config.analysisMaxBytes, tenantId);
  if (read.raw === null) throw new Error("over the analysis budget");
  const t1 = performance.now();
  const { prepared, model, info } = await prepareAsWorker(upstream, tenantId, read, at);
  if (prepared.rendered?.spans) noteScan(read.body, prepared.rendered.spans);
  const t2 = performance.now();
  const tokens = prepared.analysis?.totalTokens ?? 0;
  // As the proxy sends it to a managed tenant's upstream: Anthropic asks for cache diagnostics first.
  const lead = upstream === "anthropic" ? diagnosticsField(prepared.previousMessageId ?? null) : undefined;
  const sent = prepared.rendered?.bytes(read.bytes, lead) ?? prepared.body;
  const capture = keepaliveCapture(prepared, prepared.body, new Headers(), "/v1/messages");
  const t3 = performance.now();
  const outcome: Outcome = {
    requestId: `r-${at}`,
    tenantId,
    upstream,
    endpoint,
    model,
    stream: false,
    status: 200,
    result: "ok",
    // As if the provider wrote what was planned (the next turn's plan reads it): the state a turn leaves.
    usage: {
      inputTokens: tokens,
      uncachedTokens: 50,
      cacheReadTokens: 0,
      cacheWrite5mTokens: Math.max(tokens - 50, 0),
      cacheWrite1hTokens: 0,
      outputTokens: 20,
    },
    startedAt: at,
    headersMs: 5,
    ttfbMs: 5,
    durationMs: 8,
    plan: prepared.planText,
  };
  // The capture carries the bytes sent upstream where the render made them, as the proxy's record does.
  const captured = capture && typeof sent !== "string" ? { ...capture, body: sent } : capture;
  const record = toRecord(outcome, prepared, captured, config.models, info);
  learnOutcome(tenantId, record, 300_000, at + 8);
  // As the record's RPC to the tracker serializes it (a capture in text is made one flat string there).
  structuredClone(record);
  // The body kept for the next turn (or, read after a kept one, its joined text made flat), as the proxy
  // does once the request has gone upstream.
  if (!read.parsedAfterKept) keepParsed(tenantId, read.bytes, read.raw, read.body);
  else if (read.scanHint?.parts) flattenJoined(read.raw);
  const t4 = performance.now();
  if (sent.length === 0) throw new Error("nothing to send");
  return {
    times: { read: t1 - t0, prepare: t2 - t1, send: t3 - t2, record: t4 - t3 },
    plan: prepared.planText,
  };
}

const ms = (x: number) => x.toFixed(3);

/**
 * A group's kind of request: a conversation's later turn, the first request of a conversation carrying its
 * earlier turns (they went through another isolate), or a new conversation's opening of a family whose
 * tools and system are most of the prompt. The first two are timed in the order they always were (per
 * size, a later turn then a first request), the openings after all of them (see SETTLE_MS).
 */
/** The kinds timed size by size, in the order they always were. */
const PER_SIZE = ["later turn", "first request"] as const;
const KINDS = [...PER_SIZE, "new conversation"] as const;
type Kind = (typeof KINDS)[number];

/** One group's requests, one conversation (later turns) or one family (the other kinds) on its tenant. */
function requests(upstream: Upstream, tokens: number, kind: Kind, tenantId: string) {
  const seed = 300 + tokens / 1000;
  const make =
    kind === "new conversation"
      ? openingFactory(upstream, tokens, false, seed)
      : bodyFactory(upstream, tokens, false, seed, kind === "first request");
  let at = 1_800_000_000_000;
  return async (i: number) => {
    const bytes = new Uint8Array(make(i));
    at += 15_000;
    return { ...(await oneRequest(upstream, tenantId, bytes, at)), kib: bytes.byteLength / 1024 };
  };
}

it("Stoker's own CPU per request, as the worker runs it", async () => {
  const rows: string[] = [
    "| request | turn | body KiB | requests timed | read + parse | prepare | body to send | **request path** mean / p99 | after the request: record, body kept | plan |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  const upstreams = ["anthropic", "openai"] as const;
  const warmed = upstreams.flatMap((upstream) =>
    SIZES.filter((tokens) => tokens <= WARM_TOKENS).flatMap((tokens) =>
      PER_SIZE.map((kind) => ({ upstream, tokens, kind })),
    ),
  );
  for (const { upstream, tokens, kind } of warmed) {
    const send = requests(upstream, tokens, kind, `warm-${upstream}-${tokens}-${kind}`);
    const until = performance.now() + WARM_MS;
    for (let i = 0; performance.now() < until; i++) await send(i);
  }
  const order = [
    ...upstreams.flatMap((upstream) =>
      SIZES.flatMap((tokens) => PER_SIZE.map((kind) => ({ upstream, tokens, kind }))),
    ),
    ...upstreams.flatMap((upstream) =>
      SIZES.map((tokens) => ({ upstream, tokens, kind: "new conversation" as const })),
    ),
  ];
  const timed = new Map<string, string>();
  for (const { upstream, tokens, kind } of order) {
    const tenantId = `bench-${upstream}-${tokens}-${kind}`;
    const request = requests(upstream, tokens, kind, tenantId);
    let plan: string | null = null;
    let kib = 0;
    const send = async (i: number) => {
      const r = await request(i);
      plan = r.plan;
      kib = r.kib;
      return r.times;
    };
    let next = 0;
    const settle = performance.now() + SETTLE_MS;
    while (performance.now() < settle) await send(next++);
    const w0 = performance.now();
    for (let i = 0; i < WARMUP; i++) await send(next++);
    const batch = Math.max(3, Math.ceil((SAMPLE_MS * WARMUP) / Math.max(performance.now() - w0, 1)));
    const samples: Record<Phase | "path", number[]> = {
      read: [],
      prepare: [],
      send: [],
      record: [],
      path: [],
    };
    for (let s = 0; s < SAMPLES; s++) {
      const sum: Record<Phase, number> = { read: 0, prepare: 0, send: 0, record: 0 };
      for (let k = 0; k < batch; k++) {
        const t = await send(next++);
        for (const p of PHASES) sum[p] += t[p];
      }
      for (const p of PHASES) samples[p].push(sum[p] / batch);
      samples.path.push((sum.read + sum.prepare + sum.send) / batch);
    }
    // Every sample is a batch of the same size: the mean of the means is the mean per request.
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length - 1] as number;
    timed.set(
      `${upstream} ${tokens} ${kind}`,
      `| ${upstream === "anthropic" ? "anthropic" : "openai-chat"} ${tokens / 1000}K | ${kind} | ${Math.round(kib)} | ${SAMPLES * batch} | ${ms(mean(samples.read))} | ${ms(mean(samples.prepare))} | ${ms(mean(samples.send))} | **${ms(mean(samples.path))} / ${ms(p99(samples.path))}** | ${ms(mean(samples.record))} | \`${plan}\` |`,
    );
  }
  // Printed by request and kind, whatever order they were timed in.
  for (const upstream of upstreams)
    for (const tokens of SIZES)
      for (const kind of KINDS) rows.push(timed.get(`${upstream} ${tokens} ${kind}`) as string);
  console.log(`\n${PATH_TITLE}\n${rows.join("\n")}\n`);
});

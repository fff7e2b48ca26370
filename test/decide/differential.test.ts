import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mulberry32 } from "../../bench/economics/synthetic.ts";
import { type Trace, type TraceLine, traceFromLines } from "../../bench/economics/trace.ts";
import { anthropicBody, openAIChatBody } from "../../bench/economics/worker/bodies.ts";
import { type ReplayApi, replayWorker } from "../../bench/economics/worker/stoker.ts";
import { modelInfo } from "../../src/economics/models.ts";
import { DEV_AWAIT_TRACKER } from "../../src/edge/proxy.ts";
import type { Totals } from "../../src/tracker/types.ts";
import { namespace, STOKER, workerFetch } from "../support/clients.ts";
import { freshTenant } from "../support/tenants.ts";
import { eventually, tracker } from "../support/tracker.ts";

// The economics replay (bench/economics/worker/) claims to be the worker's own path. This test holds it to
// that: one recorded sequence through the worker in workerd (real Tracker, the simulator over HTTP, the shared
// dev clock moved between requests, each record awaited) and through the replay gives the same plan for
// every request and the same total input cost.

const MODELS: Record<ReplayApi, string> = { anthropic: "claude-sonnet-4-5", openai: "gpt-5" };
const BLOCK = 512;
const S = 1000;
const MIN = 60 * S;
const HEAD_BLOCKS = 3;

/**
 * A recorded sequence in the trace format: 7 conversations on a shared 3-block head, turns 20 s to 12 min
 * apart (some pauses outlive a 5m entry, so keepalive decides), and one-off requests in between.
 */
function sequence(t0: number, seed: number): Trace {
  const rng = mulberry32(seed);
  const lines: TraceLine[] = [];
  let nextId = 3;
  const HEAD = Array.from({ length: HEAD_BLOCKS }, (_v, i) => i);
  const gaps = [20 * S, 40 * S, 2 * MIN, 4.5 * MIN, 6 * MIN, 7 * MIN, 12 * MIN];
  for (let c = 0; c < 7; c++) {
    const own: number[] = [];
    let t = t0 + c * 50 * S;
    for (let turn = 0; turn < 13; turn++) {
      own.push(nextId++, nextId++);
      const partial = nextId++;
      const ids = [...HEAD, ...own, partial];
      lines.push({
        timestamp: t,
        input_length: BLOCK * (ids.length - 1) + 200,
        output_length: 50,
        hash_ids: ids,
      });
      t += gaps[Math.floor(rng() * gaps.length)] as number;
    }
  }
  for (let k = 0; k < 19; k++) {
    const ids = [...HEAD, nextId++, nextId++, nextId++];
    lines.push({
      timestamp: t0 + Math.floor(rng() * 60 * MIN),
      input_length: BLOCK * 5 + 300,
      output_length: 5,
      hash_ids: ids,
    });
  }
  return traceFromLines(lines);
}

/** Input cost in base-price tokens, from the tracker's totals (requests and pings). */
function inputUnits(t: Totals, model: string): number {
  const m = modelInfo(model);
  return (
    t.uncachedTokens +
    t.cacheReadTokens * m.cacheRead +
    t.cacheWrite5mTokens * m.cacheWrite5m +
    t.cacheWrite1hTokens * m.cacheWrite1h
  );
}

async function clock(advanceMs: number): Promise<number> {
  const res = await workerFetch(`${STOKER}/__dev/clock`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    // The test sweeps at each deadline itself, as the replay does; the cron would also sweep at request times.
    body: JSON.stringify({ advance_ms: Math.max(0, advanceMs), cron: false }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { now_ms: number }).now_ms;
}

async function workerNow(): Promise<number> {
  return ((await (await workerFetch(`${STOKER}/__dev/clock`)).json()) as { now_ms: number }).now_ms;
}

/** The tracker's next alarm, on the shared clock (null when none is set). */
function nextWake(tenantId: string): Promise<number | null> {
  return runInDurableObject(tracker(tenantId), (_i, state) => {
    const row = state.storage.sql
      .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'alarm_at'")
      .toArray()[0];
    return row ? Number(row.value) : null;
  });
}

async function freeze(frozen: boolean): Promise<void> {
  const res = await workerFetch(`${STOKER}/__dev/clock`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ freeze: frozen }),
  });
  expect(res.status).toBe(200);
}

describe("differential: the economics replay is the worker's own path", () => {
  // The worker's clock stands still between the test's moves, so every request and sweep happens at the
  // trace's millisecond, as in the replay (a running clock adds a few ms, enough to tip a window boundary).
  beforeEach(() => freeze(true));
  afterEach(() => freeze(false));
  for (const api of ["anthropic", "openai"] as const) {
    it(`${api}: the same plan for every request and the same input cost within 0.5 %`, async () => {
      const t = freshTenant();
      const ns = namespace();
      const model = MODELS[api];
      const trace = sequence((await workerNow()) + 1000, api === "anthropic" ? 7 : 8);
      expect(trace.requests.length).toBeGreaterThanOrEqual(100);

      const replayPlans: (string | null)[] = [];
      const replay = await replayWorker(trace, {
        api,
        mapping: "block",
        model,
        // The shared head is the system prompt, so each conversation is its own (with Mooncake's one head
        // block, the head's other blocks would open every user message and all would be one conversation).
        headFallback: HEAD_BLOCKS,
        tenantId: t.id,
        onRequest: (_req, plan) => replayPlans.push(plan),
      });

      const workerPlans: (string | null)[] = [];
      let lastSweep = Number.NEGATIVE_INFINITY;
      for (const req of trace.requests) {
        // The tracker's alarms that fall before this request, at their time (as the replay sweeps).
        for (;;) {
          const at = await nextWake(t.id);
          if (at === null) break;
          const wake = Math.max(at, lastSweep + 1000);
          if (wake >= req.atMs) break;
          await clock(wake - (await workerNow()));
          // The alarm, at its time (the frozen clock leaves the wall-clock alarm for later); an alarm a
          // record left early only sets the next.
          await runDurableObjectAlarm(tracker(t.id));
          lastSweep = wake;
        }
        await clock(req.atMs - (await workerNow()));
        const before = ((await tracker(t.id).totals()) as Totals).requests;
        const body =
          api === "anthropic"
            ? anthropicBody(trace, req, "block", model, HEAD_BLOCKS)
            : openAIChatBody(trace, req, "block", model, HEAD_BLOCKS);
        const res = await workerFetch(
          `${STOKER}/${api === "anthropic" ? "anthropic/v1/messages" : "openai/v1/chat/completions"}`,
          {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "x-sim-namespace": ns,
              // The replay plans from the tracker's state after every record and ping; the worker, which
              // never waits for the tracker in a deploy, is asked to here (dev clock only) to be compared.
              [DEV_AWAIT_TRACKER]: "1",
              ...(api === "anthropic"
                ? { "x-api-key": t.key, "anthropic-version": "2023-06-01" }
                : { authorization: `Bearer ${t.key}` }),
            },
            body: JSON.stringify(body),
          },
        );
        expect(res.status).toBe(200);
        await res.text();
        workerPlans.push(res.headers.get("x-stoker-plan"));
        await eventually(
          async () => ((await tracker(t.id).totals()) as Totals).requests,
          (n) => n > before,
        );
      }
      // Deadlines up to the sequence's last request, as the replay sweeps them.
      for (;;) {
        const at = await nextWake(t.id);
        if (at === null) break;
        const wake = Math.max(at, lastSweep + 1000);
        if (wake >= trace.endMs) break;
        await clock(wake - (await workerNow()));
        await runDurableObjectAlarm(tracker(t.id));
        lastSweep = wake;
      }

      expect(workerPlans).toEqual(replayPlans);
      const totals = (await tracker(t.id).totals()) as Totals;
      const worker = inputUnits(totals, model);
      const replayed = replay.cost * replay.totalInputTokens;
      expect(Math.abs(worker - replayed) / replayed).toBeLessThan(0.005);
      // Not a trivial sequence: the plans differ from request to request, read, and on Anthropic write and ping.
      expect(replay.readTokens).toBeGreaterThan(0);
      if (api === "anthropic") {
        expect(new Set(workerPlans).size).toBeGreaterThan(20);
        expect(replay.write5mTokens).toBeGreaterThan(0);
        expect(replay.pings).toBeGreaterThan(0);
      }
    }, 240_000);
  }
});

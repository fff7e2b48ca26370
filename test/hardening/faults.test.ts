// Upstream faults (sim/faults.ts) through Stoker, for Anthropic Messages, OpenAI Chat Completions and OpenAI
// Responses, streaming and not: what the client sees, what is accounted (exactly one row per request, with
// the right status and result), and that keepalive backs off. Already covered elsewhere and not repeated
// here: test/edge/errors.test.ts (Anthropic 429/529/500 and OpenAI 429 pass through, one 504),
// test/edge/stream-faults.test.ts (cut streams raise in the SDKs).
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import { namespace, simFault, simRequests } from "../support/clients.ts";
import {
  justBeforeLapse,
  keepaliveRows,
  seedFamilyHistory,
  twoTurnConversation,
} from "../support/keepalive.ts";
import { freshTenant } from "../support/tenants.ts";
import { tracker } from "../support/tracker.ts";
import { requestRows, trackerState } from "../support/tracker-state.ts";

type Kind = "messages" | "chat" | "responses";
const KINDS: Kind[] = ["messages", "chat", "responses"];
const UPSTREAM_TIMEOUT_MS = 2000; // vitest.config.ts

const PATHS: Record<Kind, string> = {
  messages: "/anthropic/v1/messages",
  chat: "/openai/v1/chat/completions",
  responses: "/openai/v1/responses",
};

function body(kind: Kind, stream: boolean): Record<string, unknown> {
  const prompt = "Tell me a long story";
  if (kind === "messages")
    return {
      model: "claude-sonnet-4-6",
      max_tokens: 64,
      stream,
      messages: [{ role: "user", content: prompt }],
    };
  if (kind === "chat")
    return {
      model: "gpt-4o-mini",
      max_completion_tokens: 64,
      stream,
      messages: [{ role: "user", content: prompt }],
    };
  return { model: "gpt-4o-mini", max_output_tokens: 64, stream, input: prompt };
}

const tenant = freshTenant();
let sent = 0;

interface Sent {
  res: Response;
  text: string;
  ms: number;
  rows: Awaited<ReturnType<typeof requestRows>>;
}

/** What `send` reads when the body broke under the client. */
const BROKEN = "<the body broke>";

/** A request to Stoker for this file's tenant, in the simulator namespace `ns`. */
function stokerRequest(
  kind: Kind,
  stream: boolean,
  ns: string,
  extra: Record<string, string> = {},
  signal?: AbortSignal,
): Request {
  const auth: Record<string, string> =
    kind === "messages" ? { "x-api-key": tenant.key } : { authorization: `Bearer ${tenant.key}` };
  return new Request(`http://stoker.test${PATHS[kind]}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      "x-sim-namespace": ns,
      ...auth,
      ...extra,
    },
    body: JSON.stringify(body(kind, stream)),
    ...(signal ? { signal } : {}),
  });
}

/** One request through Stoker's fetch handler, its body read to the end, its waitUntil work (the record) done. */
async function send(
  kind: Kind,
  stream: boolean,
  ns: string,
  workerEnv: Env = env,
  extra: Record<string, string> = {},
): Promise<Sent> {
  const ctx = createExecutionContext();
  const started = Date.now();
  sent++;
  const res = await worker.fetch(stokerRequest(kind, stream, ns, extra), workerEnv, ctx);
  const text = await res.text().catch(() => BROKEN);
  const ms = Date.now() - started;
  await waitOnExecutionContext(ctx);
  const id = res.headers.get("x-stoker-request-id");
  return { res, text, ms, rows: id ? await requestRows(tenant.id, [id]) : [] };
}

/** The same request straight to the simulator, with the same fault armed in a namespace of its own. */
async function direct(kind: Kind, stream: boolean, fault: Record<string, unknown>) {
  const ns = namespace();
  if (Object.keys(fault).length > 0) await simFault(ns, fault);
  const res = await fetch(`${env.SIM_URL}${PATHS[kind]}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-sim-namespace": ns },
    body: JSON.stringify(body(kind, stream)),
  });
  return { res, text: await res.text() };
}

/** Error bodies carry a fresh request id per answer; everything else must match byte for byte. */
const sansIds = (text: string) => text.replace(/req_[A-Za-z0-9]+/g, "req_X");

function expectOneRow(s: Sent, status: number, result: string): void {
  expect(s.rows).toHaveLength(1);
  expect(s.rows[0]?.status).toBe(status);
  expect(s.rows[0]?.result).toBe(result);
}

function errorShape(kind: Kind, text: string): { type: string; code?: unknown } {
  const json = JSON.parse(text);
  if (kind === "messages") {
    expect(json.type).toBe("error");
    expect(typeof json.error.message).toBe("string");
    return { type: json.error.type };
  }
  expect(Object.keys(json.error).sort()).toEqual(["code", "message", "param", "type"]);
  return { type: json.error.type, code: json.error.code };
}

/** The events of an SSE body (blank-line separated), and its last one. */
function events(text: string): string[] {
  return text.split(/\n\n/).filter((e) => e.trim() !== "");
}

describe("upstream error statuses reach the client unchanged and are accounted once", () => {
  const cases = KINDS.flatMap((kind) =>
    (kind === "messages" ? [429, 500, 529] : [429, 500, 503]).flatMap((status) =>
      [false, true].map((stream) => ({ kind, status, stream })),
    ),
  );
  it.each(cases)("$kind $status stream=$stream", async ({ kind, status, stream }) => {
    const fault = { status, retry_after_seconds: 7 };
    const ns = namespace();
    await simFault(ns, fault);
    const s = await send(kind, stream, ns);
    const d = await direct(kind, stream, fault);
    expect(s.res.status).toBe(status);
    expect(s.res.headers.get("retry-after")).toBe("7");
    expect(sansIds(s.text)).toBe(sansIds(d.text));
    expect(s.res.headers.get("content-type")).toBe(d.res.headers.get("content-type"));
    // The upstream's own request id passes through beside Stoker's.
    const upstreamId = kind === "messages" ? "request-id" : "x-request-id";
    expect(s.res.headers.get(upstreamId)).toMatch(/^req_/);
    expect(s.res.headers.get("x-stoker-request-id")).toMatch(/^req_stk_/);
    expectOneRow(s, status, "upstream_error");
  });
});

describe.concurrent("slow and hanging upstreams", () => {
  it.each(KINDS.flatMap((kind) => [false, true].map((stream) => ({ kind, stream }))))(
    "$kind stream=$stream: a slow first byte (600 ms) is waited for",
    async ({ kind, stream }) => {
      const ns = namespace();
      await simFault(ns, { delay_ms: 600 });
      const s = await send(kind, stream, ns);
      expect(s.res.status).toBe(200);
      expect(s.ms).toBeGreaterThanOrEqual(590);
      expectOneRow(s, 200, "ok");
    },
  );

  it.each(KINDS.flatMap((kind) => [false, true].map((stream) => ({ kind, stream }))))(
    "$kind stream=$stream: no headers within UPSTREAM_TIMEOUT_MS -> 504 in the provider's shape",
    async ({ kind, stream }) => {
      const ns = namespace();
      await simFault(ns, { delay_ms: 3_000 });
      const s = await send(kind, stream, ns);
      expect(s.res.status).toBe(504);
      expect(s.ms).toBeGreaterThanOrEqual(UPSTREAM_TIMEOUT_MS - 10);
      expect(s.ms).toBeLessThan(UPSTREAM_TIMEOUT_MS + 900);
      const e = errorShape(kind, s.text);
      if (kind === "messages") expect(e.type).toBe("timeout_error");
      else expect(e.code).toBe("upstream_timeout");
      expectOneRow(s, 504, "timeout");
    },
  );

  it.each(KINDS)(
    "%s: a slow stream (400 ms between events) runs past UPSTREAM_TIMEOUT_MS uncut",
    async (kind) => {
      const ns = namespace();
      await simFault(ns, { stream_delay_ms: 400 });
      const s = await send(kind, true, ns);
      expect(s.res.status).toBe(200);
      expect(s.ms).toBeGreaterThan(UPSTREAM_TIMEOUT_MS);
      expect(s.text).not.toMatch(/stream_interrupted|The upstream stream/);
      expectOneRow(s, 200, "ok");
    },
  );
});

describe("a client that leaves", () => {
  /** A streamed request whose client can leave: the runtime aborts its signal then (enable_request_signal). */
  async function leaving(kind: Kind, ns: string) {
    const client = new AbortController();
    const ctx = createExecutionContext();
    sent++;
    const answer = worker.fetch(stokerRequest(kind, true, ns, {}, client.signal), env, ctx);
    const rows = async (res: Response) => {
      await waitOnExecutionContext(ctx);
      const id = res.headers.get("x-stoker-request-id");
      return id ? await requestRows(tenant.id, [id]) : [];
    };
    return { client, answer, rows };
  }

  it.each(KINDS)(
    "%s, mid-stream: the upstream stops being read and the request is accounted once as client_cancelled",
    async (kind) => {
      const ns = namespace();
      // Events 250 ms apart: the whole answer would take seconds to read.
      await simFault(ns, { stream_delay_ms: 250 });
      const started = Date.now();
      const { client, answer, rows } = await leaving(kind, ns);
      const res = await answer;
      expect(res.status).toBe(200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      expect((await reader.read()).done).toBe(false);
      client.abort();
      await reader.cancel("gone");
      const recorded = await rows(res);
      const elapsed = Date.now() - started;
      const whole = events((await direct(kind, true, {})).text).length;
      // Read to its end, the answer would have taken (events − 1) × 250 ms; the relay stopped well before.
      expect(whole).toBeGreaterThan(4);
      expect(elapsed).toBeLessThan(((whole - 1) * 250) / 2);
      expect(recorded).toHaveLength(1);
      expect(recorded[0]?.result).toBe("client_cancelled");
    },
  );

  it.each(KINDS)(
    "%s, before the answer's headers: the upstream call is dropped and the request is accounted once as client_cancelled (499)",
    async (kind) => {
      const ns = namespace();
      await simFault(ns, { delay_ms: 1500 });
      const started = Date.now();
      const { client, answer, rows } = await leaving(kind, ns);
      setTimeout(() => client.abort(), 100);
      const res = await answer;
      expect(Date.now() - started).toBeLessThan(1000);
      const recorded = await rows(res);
      expect(recorded).toHaveLength(1);
      expect(recorded[0]?.status).toBe(499);
      expect(recorded[0]?.result).toBe("client_cancelled");
    },
  );
});

describe("an unreachable upstream", () => {
  it.each(KINDS.flatMap((kind) => [false, true].map((stream) => ({ kind, stream }))))(
    "$kind stream=$stream -> 502 in the provider's shape, accounted as unreachable",
    async ({ kind, stream }) => {
      // Port 9 (discard) on loopback: nothing listens, the connection is refused.
      const dead = {
        ...env,
        ANTHROPIC_UPSTREAM_URL: "http://127.0.0.1:9/anthropic",
        OPENAI_UPSTREAM_URL: "http://127.0.0.1:9/openai",
      };
      const s = await send(kind, stream, namespace(), dead as Env);
      expect(s.res.status).toBe(502);
      const e = errorShape(kind, s.text);
      if (kind === "messages") expect(e.type).toBe("api_error");
      else expect(e.code).toBe("upstream_unreachable");
      expectOneRow(s, 502, "unreachable");
    },
  );
});

describe("a stream cut mid-way reaches the client as an error event in the provider's stream shape", () => {
  const ERROR_EVENT: Record<Kind, RegExp> = {
    messages:
      /^event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"The upstream stream (ended early|was interrupted)\."\}\}$/,
    chat: /^data: \{"error":\{"message":"The upstream stream (ended early|was interrupted)\.","type":"server_error","param":null,"code":"stream_interrupted"\}\}$/,
    responses:
      /^event: error\ndata: \{"type":"error","code":"stream_interrupted","message":"The upstream stream (ended early|was interrupted)\.","param":null\}$/,
  };
  const cases = KINDS.flatMap((kind) =>
    (["truncate_after_events", "reset_after_events"] as const).map((mode) => ({ kind, mode })),
  );
  it.each(cases)("$kind $mode=3", async ({ kind, mode }) => {
    const ns = namespace();
    await simFault(ns, { [mode]: 3 });
    const s = await send(kind, true, ns);
    const d = await direct(kind, true, {});
    expect(s.res.status).toBe(200);
    const got = events(s.text);
    const full = events(d.text);
    // The events that arrived are passed on, then one error event, and nothing after it.
    expect(got.length).toBe(4);
    expect(got.length).toBeLessThan(full.length + 1);
    expect(got.at(-1)).toMatch(ERROR_EVENT[kind]);
    expectOneRow(s, 200, mode === "truncate_after_events" ? "truncated" : "upstream_error");
  });
});

describe("a non-streaming answer cut mid-body", () => {
  it.each(KINDS)(
    "%s reset mid-body: the body breaks under the client (its status went out with the first byte), accounted once",
    async (kind) => {
      const ns = namespace();
      await simFault(ns, { reset_after_events: 1 });
      const s = await send(kind, false, ns);
      // The answer flows as it arrives (README "Response headers"): the break reaches the client as a broken
      // body, never as a complete-looking one.
      expect(s.res.status).toBe(200);
      if (s.text !== BROKEN) expect(() => JSON.parse(s.text)).toThrow();
      expectOneRow(s, 200, "upstream_error");
    },
  );

  it.each(KINDS)(
    "%s reset mid-body with x-stoker-usage: header -> 502 in the provider's shape, accounted once",
    async (kind) => {
      const ns = namespace();
      await simFault(ns, { reset_after_events: 1 });
      const s = await send(kind, false, ns, env, { "x-stoker-usage": "header" });
      // Found by this test: `await upstream.text()` (src/edge/proxy.ts) threw, an opaque 500 and no record.
      expect(s.res.status).toBe(502);
      errorShape(kind, s.text);
      expect(s.rows).toHaveLength(1);
    },
  );

  it.each(KINDS)(
    "%s reset after the headers, before any byte: 502 in the provider's shape, accounted once",
    async (kind) => {
      const ns = namespace();
      await simFault(ns, { reset_after_events: 0 });
      const s = await send(kind, false, ns);
      // Nothing went to the client yet (json-relay.ts waits for the first chunk): a clean error, not a broken 200.
      expect(s.res.status).toBe(502);
      errorShape(kind, s.text);
      expect(s.text).toContain("connection broke while sending its answer");
      expect(s.rows).toHaveLength(1);
    },
  );

  it.each(KINDS)("%s closed cleanly mid-body: forwarded as it came and accounted once", async (kind) => {
    const ns = namespace();
    await simFault(ns, { truncate_after_events: 1 });
    const s = await send(kind, false, ns);
    const d = await direct(kind, false, {});
    // Stoker forwards a 2xx body it cannot parse as it came (README: "Not JSON: forwarded as it came,
    // accounted without usage"): the client's JSON parser sees the truncation.
    expect(s.res.status).toBe(200);
    expect(s.text.length).toBeGreaterThan(0);
    expect(s.text.length).toBeLessThan(d.text.length);
    expect(() => JSON.parse(s.text)).toThrow();
    expectOneRow(s, 200, "ok");
  });
});

describe("keepalive backs off when the upstream refuses a ping", () => {
  const _MODEL = "claude-sonnet-4-6";

  async function candidate() {
    const { ns, t, row } = await twoTurnConversation();
    await seedFamilyHistory(t.id, row.family, 2, 0.8);
    return { ns, t, row };
  }

  const pings = async (ns: string) =>
    (await simRequests(ns)).filter((r) => JSON.parse(r.body).max_tokens === 0).length;

  it.each([
    ["429 with retry-after", { status: 429, retry_after_seconds: 30 }, 429],
    ["500", { status: 500 }, 500],
    ["529 overloaded", { status: 529 }, 529],
    ["a body reset mid-way", { reset_after_events: 1 }, 502],
  ] as const)(
    "%s: one attempt, accounted once, the entry stops, the next sweep sends nothing",
    async (_n, fault, status) => {
      const { ns, t, row } = await candidate();
      await simFault(ns, { ...fault, count: 5 });
      const { sweepAt } = await justBeforeLapse(ns, row, 0);
      const report = await tracker(t.id).runKeepalive(sweepAt);
      expect(report.pinged).toBe(0);
      expect(report.stopped).toBe(1);
      const [after] = await keepaliveRows(t.id);
      expect(after?.state).toBe("stopped");
      expect(after?.note).toBe(`upstream-${status}`);
      expect(await pings(ns)).toBe(1);
      // Backed off: later sweeps (the alarm, the cron) do not retry this deadline or the next.
      const again = await tracker(t.id).runKeepalive(sweepAt + 10_000);
      const later = await tracker(t.id).runKeepalive(sweepAt + 200_000);
      expect(again.pinged + later.pinged).toBe(0);
      expect(await pings(ns)).toBe(1);
      const totals = await tracker(t.id).totals();
      expect(totals.requests).toBe(3); // two turns + the refused ping, once
    },
  );
});

describe("the whole file", () => {
  it("every request sent through Stoker for this file's tenant is accounted exactly once, whatever broke", async () => {
    const state = await trackerState(tenant.id);
    expect(state.requests).toBe(sent);
  });
});

// Phase 2: the Tracker alone, through the reference worker's /t routes. Realistic conversations are
// prepared in Node with Stoker's own code (prepare: canonicalize, chain, lookup, plan, render), answered by
// the simulator, turned into Stoker's record (toRecord, keepaliveCapture) and recorded, so the tracker holds
// what it would hold in production. Each lookup and record is paired with a /t/noop call carrying the same
// body, in alternating order: the difference is the RPC's own cost (JSON parsing and the HTTP hop cancel).
import type { Config } from "../../src/core/config.ts";
import { parseConfig } from "../../src/core/config.ts";
import type { Logger } from "../../src/core/log.ts";
import type { RpcResult } from "../../src/core/rpc.ts";
import { keepaliveCapture } from "../../src/edge/capture.ts";
import { prepare } from "../../src/edge/prepare.ts";
import { toRecord } from "../../src/edge/record.ts";
import type { PlanLookup } from "../../src/plan/context.ts";
import { DEFAULT_CACHE_SETTINGS } from "../../src/plan/settings.ts";
import type { LookupAnswer } from "../../src/tracker/types.ts";
import type { Endpoint } from "../../src/upstream/outcome.ts";
import { anthropicUsage, openAIChatUsage } from "../../src/upstream/usage.ts";
import { Conversation, type Upstream } from "./bodies.ts";
import { agent, type Timing, timedPost } from "./http.ts";

export type Kind = "managed" | "no-capture";

export interface Cell {
  upstream: Upstream;
  tokens: number;
  /** managed: Anthropic requests carry the keepalive capture (sealed body); no-capture: pass-through tenants, OpenAI. */
  kind: Kind;
  conversations: number;
  turns: number;
}

export interface TrackerStats {
  databaseSize: number;
  rows: Record<string, number>;
  bytes: Record<string, number> | null;
}

export interface CellResult {
  cell: Cell;
  lookupDiff: number[];
  lookupRtt: number[];
  noopRtt: number[];
  hashes: number[];
  recordDiff: number[];
  recordRtt: number[];
  recordBytes: number[];
  before: TrackerStats;
  after: TrackerStats;
  records: number;
  failures: string[];
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

async function stats(worker: string, tenant: string): Promise<TrackerStats> {
  const res = await fetch(`${worker}/t/stats?tenant=${encodeURIComponent(tenant)}`);
  if (!res.ok) throw new Error(`stats: HTTP ${res.status}`);
  return (await res.json()) as TrackerStats;
}

export async function runCell(
  worker: string,
  sim: string,
  cell: Cell,
  seed: number,
  runId: string,
  onRecord?: (body: Buffer) => void,
): Promise<CellResult> {
  const tenant = `ovh-${cell.kind}-${cell.upstream}-${cell.tokens}-${runId}`.slice(0, 64);
  const ns = `ovh-tr-${tenant}`;
  const config: Config = parseConfig({
    ANTHROPIC_UPSTREAM_URL: `${sim}/anthropic`,
    OPENAI_UPSTREAM_URL: `${sim}/openai`,
    STOKER_SIMULATOR: "1",
  } as unknown as Env);
  const via = agent();
  const json = { "content-type": "application/json" };
  let flip = 0;
  /** `route` and /t/noop with the same body, in alternating order; returns [route timing, diff]. */
  const paired = async (route: string, body: Buffer): Promise<[Timing, number, number]> => {
    const call = () => timedPost(via, `${worker}${route}`, json, body);
    const noop = () => timedPost(via, `${worker}/t/noop`, json, body);
    let real: Timing;
    let base: Timing;
    if (flip++ % 2 === 0) {
      real = await call();
      base = await noop();
    } else {
      base = await noop();
      real = await call();
    }
    if (real.status !== 200) throw new Error(`${route}: HTTP ${real.status} ${real.body.slice(0, 300)}`);
    return [real, real.wallMs - base.wallMs, base.wallMs];
  };

  const r: CellResult = {
    cell,
    lookupDiff: [],
    lookupRtt: [],
    noopRtt: [],
    hashes: [],
    recordDiff: [],
    recordRtt: [],
    recordBytes: [],
    before: await stats(worker, tenant),
    after: { databaseSize: 0, rows: {}, bytes: null },
    records: 0,
    failures: [],
  };
  const lookup = async (hashes: string[]): Promise<PlanLookup> => {
    const body = Buffer.from(JSON.stringify({ tenant, hashes, now: Date.now() }));
    const [res, diff, noop] = await paired("/t/lookup", body);
    r.lookupDiff.push(diff);
    r.lookupRtt.push(res.wallMs);
    r.noopRtt.push(noop);
    r.hashes.push(hashes.length);
    const answer = JSON.parse(res.body) as RpcResult<LookupAnswer>;
    if (!answer.ok) throw new Error(`lookup rejected: ${answer.error}`);
    return { known: new Map(Object.entries(answer.value.states)) };
  };

  const endpoint: Endpoint = cell.upstream === "anthropic" ? "messages" : "chat.completions";
  const path = cell.upstream === "anthropic" ? "/v1/messages" : "/v1/chat/completions";
  for (let c = 0; c < cell.conversations; c++) {
    const conv = new Conversation(cell.upstream, cell.tokens, seed + c * 101, seed);
    for (let turn = 0; turn < cell.turns; turn++) {
      const body = conv.body();
      const startedAt = Date.now();
      const prepared = await prepare({
        endpoint,
        raw: JSON.stringify(body),
        body,
        tenantId: tenant,
        tenantRules: {},
        settings: DEFAULT_CACHE_SETTINGS,
        config,
        canonicalizeHeader: null,
        nowMs: startedAt,
        lookup,
        log: silent,
      });
      const headers = new Headers({ "content-type": "application/json", "x-sim-namespace": ns });
      if (cell.upstream === "anthropic") headers.set("anthropic-version", "2023-06-01");
      const res = await fetch(`${sim}/${cell.upstream}${path}`, {
        method: "POST",
        headers,
        body: prepared.body,
      });
      const answer = (await res.json()) as Record<string, unknown>;
      if (!res.ok) {
        r.failures.push(`simulator: HTTP ${res.status} ${JSON.stringify(answer).slice(0, 200)}`);
        continue;
      }
      const usage =
        cell.upstream === "anthropic" ? anthropicUsage(answer.usage) : openAIChatUsage(answer.usage);
      const reply =
        cell.upstream === "anthropic"
          ? ((answer.content as { text?: string }[])[0]?.text ?? "")
          : ((answer.choices as { message: { content: string } }[])[0]?.message.content ?? "");
      const capture =
        cell.kind === "managed" && cell.upstream === "anthropic"
          ? keepaliveCapture(prepared, prepared.body, headers, path)
          : null;
      const ms = Date.now() - startedAt;
      const record = toRecord(
        {
          requestId: `req_ovh_${crypto.randomUUID().replaceAll("-", "")}`,
          tenantId: tenant,
          upstream: cell.upstream,
          endpoint,
          model: String(body.model),
          stream: false,
          status: 200,
          result: "ok",
          usage,
          startedAt,
          headersMs: ms,
          ttfbMs: ms,
          durationMs: ms,
          plan: prepared.planText,
        },
        prepared,
        capture,
        config.models,
      );
      const recordBody = Buffer.from(JSON.stringify(record));
      onRecord?.(recordBody);
      const [rec, diff] = await paired("/t/record", recordBody);
      const ok = JSON.parse(rec.body) as RpcResult<{ counted: boolean }>;
      if (!ok.ok || !ok.value.counted) r.failures.push(`record: ${rec.body.slice(0, 200)}`);
      r.recordDiff.push(diff);
      r.recordRtt.push(rec.wallMs);
      r.recordBytes.push(recordBody.length);
      r.records++;
      conv.advance(reply);
    }
  }
  via.destroy();
  r.after = await stats(worker, tenant);
  return r;
}

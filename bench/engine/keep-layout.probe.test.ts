// What keeping a body read whole costs after the response (src/edge/body-memo.ts `keepParsed`): laid out
// from the render's scan of its text (noted by the proxy), or from a scan of its own. 100K-token first
// requests of the overhead benchmark (bench/overhead/bodies.ts) through analyze, plan and render as the
// worker runs them; every other request has its scan noted. Three rounds; means per request. Run:
// `npx vitest run --config bench/engine/probe.config.ts bench/engine/keep-layout.probe.test.ts` (prints; writes nothing).
import { it } from "vitest";
import { parseConfig } from "../../src/core/config.ts";
import { createLogger } from "../../src/core/log.ts";
import { modelInfo } from "../../src/economics/models.ts";
import { analysisMemo } from "../../src/edge/analysis-memo.ts";
import { keepParsed, noteScan } from "../../src/edge/body-memo.ts";
import { prepare } from "../../src/edge/prepare.ts";
import { DEFAULT_CACHE_SETTINGS } from "../../src/plan/settings.ts";
import { bodyFactory, type Upstream } from "../overhead/bodies.ts";

const config = parseConfig({ STOKER_SIMULATOR: "1" } as unknown as Env);
const log = createLogger("probe", "error");
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const RUN_MS = 4000;

async function round(upstream: Upstream, r: number): Promise<string> {
  const tenantId = `keep-${upstream}-${r}`;
  const make = bodyFactory(upstream, 100_000, false, 400, true);
  const sums = { noted: 0, own: 0, n: 0 };
  const until = performance.now() + RUN_MS;
  for (let i = 0; performance.now() < until; i++) {
    const bytes = new Uint8Array(make(i));
    const raw = utf8.decode(bytes);
    const body = JSON.parse(raw) as Record<string, unknown>;
    const model = body.model as string;
    const prepared = await prepare({
      endpoint: upstream === "anthropic" ? "messages" : "chat.completions",
      raw,
      body,
      tenantId,
      tenantRules: {},
      settings: DEFAULT_CACHE_SETTINGS,
      config,
      canonicalizeHeader: null,
      model: modelInfo(model, config.models, upstream),
      modelId: model,
      nowMs: 1_800_000_000_000 + i * 15_000,
      memo: analysisMemo(tenantId),
      log,
      lookup: async () => ({ known: new Map() }),
    });
    const noted = i % 2 === 0;
    if (noted && prepared.rendered?.spans) noteScan(body, prepared.rendered.spans);
    const t0 = performance.now();
    keepParsed(tenantId, bytes, raw, body);
    const ms = performance.now() - t0;
    if (i < 20) continue;
    if (noted) sums.noted += ms;
    else sums.own += ms;
    sums.n++;
  }
  const per = (x: number) => (x / (sums.n / 2)).toFixed(3);
  return `${upstream === "openai" ? "openai-chat" : upstream} 100K, round ${r + 1}: from the render's scan ${per(sums.noted)} ms, scanned itself ${per(sums.own)} ms (${sums.n} requests)`;
}

it("keeping a body read whole, with and without the render's scan", async () => {
  const lines: string[] = [];
  for (let r = 0; r < 3; r++)
    for (const upstream of ["anthropic", "openai"] as const) lines.push(await round(upstream, r));
  console.log(lines.join("\n"));
});

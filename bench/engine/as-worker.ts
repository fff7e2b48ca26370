// `prepare` as the proxy calls it (src/edge/proxy.ts), for the benchmarks that time what a request costs
// Stoker's isolate: one place, so that they all prepare alike.
import { parseConfig } from "../../src/core/config.ts";
import { createLogger } from "../../src/core/log.ts";
import { type ModelInfo, modelInfo } from "../../src/economics/models.ts";
import { analysisMemo } from "../../src/edge/analysis-memo.ts";
import { type Prepared, prepare } from "../../src/edge/prepare.ts";
import { DEFAULT_CACHE_SETTINGS } from "../../src/plan/settings.ts";
import { planLookup } from "../../src/tracker/client.ts";
import type { ScanHint } from "../../src/upstream/body/scan.ts";
import type { Upstream } from "../overhead/bodies.ts";

export const config = parseConfig({ STOKER_SIMULATOR: "1" } as unknown as Env);
export const log = createLogger("bench", "error");

/** A client's request carrying `bytes`, as the route receives it (a declared length, JSON). */
export const requestOf = (bytes: Uint8Array): Request =>
  new Request("http://stoker/v1", {
    method: "POST",
    headers: { "content-type": "application/json", "content-length": String(bytes.byteLength) },
    body: bytes,
  });

/** A body as the route's reader gives it (`readRequestBody`), or decoded and parsed whole. */
export interface ReadBody {
  raw: string;
  body: Record<string, unknown>;
  scanHint?: ScanHint;
  sharedWith?: Record<string, unknown>;
}

/**
 * `prepare` for a managed tenant with the default settings and no canonicalize header, planned from what
 * this isolate holds (`planLookup`: never a wait on the tracker), with the isolate's analysis memo.
 */
export async function prepareAsWorker(
  upstream: Upstream,
  tenantId: string,
  read: ReadBody,
  at: number,
): Promise<{ prepared: Prepared; model: string; info: ModelInfo }> {
  const model = read.body.model as string;
  const info = modelInfo(model, config.models, upstream);
  const prepared = await prepare({
    endpoint: upstream === "anthropic" ? "messages" : "chat.completions",
    raw: read.raw,
    body: read.body,
    tenantId,
    tenantRules: {},
    settings: DEFAULT_CACHE_SETTINGS,
    config,
    canonicalizeHeader: null,
    model: info,
    modelId: model,
    nowMs: at,
    memo: analysisMemo(tenantId),
    log,
    ...(read.scanHint ? { scanHint: read.scanHint } : {}),
    ...(read.sharedWith ? { sharedWith: read.sharedWith } : {}),
    lookup: (hashes, scope) =>
      planLookup({ env: {} as Env, tenantId, nowMs: at, log, waitUntil: () => {} }, hashes, scope),
    // As the worker does: a conversation never analyzed here is hashed after its key once the answer is out
    // (the record, `toRecord`, makes the hashes).
    defer: true,
  });
  return { prepared, model, info };
}

import { env } from "cloudflare:workers";
import { getConfig } from "../../src/core/config.ts";
import { type Prepared, prepare } from "../../src/edge/prepare.ts";
import { DEFAULT_CACHE_SETTINGS } from "../../src/plan/settings.ts";

/** Stoker's own `prepare` of an Anthropic Messages `body` for `tenantId`, knowing nothing (an empty lookup). */
export function prepareWithoutState(tenantId: string, body: Record<string, unknown>): Promise<Prepared> {
  return prepare({
    endpoint: "messages",
    raw: JSON.stringify(body),
    body,
    tenantId,
    tenantRules: {},
    settings: DEFAULT_CACHE_SETTINGS,
    config: getConfig(env),
    canonicalizeHeader: null,
    nowMs: Date.now(),
    lookup: async () => ({ known: new Map() }),
    log: { debug() {}, info() {}, warn() {}, error() {} },
  });
}

import type { Context } from "hono";
import type { GpuPoolConfig } from "../core/gpu-config.ts";
import { poolFor } from "../gpu/pool-client.ts";
import type { GpuEndpoint } from "../gpu/prompt.ts";
import { MAX_TOUCH_BYTES, type RememberInput } from "../gpu/remember.ts";
import { MIN_TOUCH_TOKENS, touchBody } from "../gpu/touch.ts";
import type { Usage } from "../upstream/usage.ts";
import { afterThisTurn } from "./after-turn.ts";
import type { AppEnv } from "./context.ts";

/** Chunk keys kept per candidate (to ask the index whether the backend still holds the prompt). */
const MAX_KEPT_CHUNKS = 512;

export interface Remember {
  pool: GpuPoolConfig;
  endpoint: GpuEndpoint;
  backend: number;
  /** The body that was forwarded to the backend. */
  forwarded: string;
  /** The conversation's key (Chat: its hash through the first message), or null. */
  conversation: string | null;
  chunks: string[];
  usage: Usage;
}

/**
 * After a successful request, hands its prompt to the pool object as a keepalive candidate, when the pool has
 * keepalive on, the kill switch is off, the tenant is managed (Stoker holds the backend key) and the prompt is
 * large enough to be worth a touch. Runs after the response; failures are logged only.
 */
export function rememberForKeepalive(c: Context<AppEnv>, r: Remember): void {
  const { config, tenant, log } = c.var;
  const backend = r.pool.backends[r.backend];
  if (!r.pool.keepalive || !config.keepalive.enabled || tenant.mode !== "managed") return;
  if (!backend?.kvCacheTokens || r.usage.inputTokens < MIN_TOUCH_TOKENS) return;
  const key = r.conversation ?? r.chunks[0];
  if (!key || r.forwarded.length > MAX_TOUCH_BYTES) return;
  const pool = r.pool.name;
  afterThisTurn(c, "gpu-remember", async () => {
    const body = touchBody(r.forwarded);
    if (!body) return;
    const input: RememberInput = {
      tenantId: tenant.id,
      key,
      backend: r.backend,
      endpoint: r.endpoint,
      tokens: r.usage.inputTokens,
      chunks: r.chunks.slice(0, MAX_KEPT_CHUNKS),
      body,
      at: Date.now(),
    };
    try {
      const answer = await poolFor(c.env, pool).remember(pool, input);
      if (!answer.ok) log.warn("gpu.pool_fault", { op: "remember", fault: "rejected", pool });
    } catch (err) {
      log.warn("gpu.pool_fault", {
        op: "remember",
        fault: err instanceof Error ? err.name : "unknown",
        pool,
      });
    }
  });
}

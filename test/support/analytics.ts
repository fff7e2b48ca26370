import { expect } from "vitest";
import type { ProviderTotals } from "../../sim/stats.ts";
import { STOKER, workerFetch } from "./clients.ts";

/** GET a /v1 path with a tenant key (Bearer unless another header is given); returns status and JSON. */
export async function api(
  path: string,
  key: string | null,
  headers: Record<string, string> = {},
): Promise<{
  status: number;
  body: Record<string, unknown> & { error?: { message: string; param: string | null; type: string } };
}> {
  const res = await workerFetch(`${STOKER}${path}`, {
    headers: { ...(key === null ? {} : { authorization: `Bearer ${key}` }), ...headers },
  });
  return { status: res.status, body: (await res.json()) as never };
}

/** A tenant's row of one upstream in /v1/analytics/summary `by_upstream`. */
export interface UpstreamFigures {
  requests: number;
  uncached_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

/** The tenant's analytics row of one upstream, once the tracker has `n` requests (records land after the response). */
export async function upstreamFigures(key: string, upstream: string, n: number): Promise<UpstreamFigures> {
  for (let i = 0; i < 100; i++) {
    const { body } = await api("/v1/analytics/summary", key);
    const rows = body.by_upstream as ({ upstream: string } & UpstreamFigures)[] | undefined;
    const row = rows?.find((r) => r.upstream === upstream);
    if (row && row.requests >= n) return row;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("tracker never recorded the requests");
}

/** The tenant's figures are the simulator's bill, token for token (every write TTL counts as a write). */
export function expectFiguresMatchBill(figures: UpstreamFigures, bill: ProviderTotals): void {
  expect(figures.uncached_tokens).toBe(bill.uncached_input_tokens);
  expect(figures.cache_read_tokens).toBe(bill.cache_read_input_tokens);
  expect(figures.cache_write_tokens).toBe(
    bill.cache_write_5m_input_tokens + bill.cache_write_1h_input_tokens,
  );
  expect(figures.output_tokens).toBe(bill.output_tokens);
}

/** Expected cost of Anthropic usage at $3 / $15 per MTok (claude-sonnet-4-6): computed here, not by Stoker. */
export function sonnetCost(t: {
  uncached_input_tokens: number;
  cache_read_input_tokens: number;
  cache_write_5m_input_tokens: number;
  cache_write_1h_input_tokens: number;
  output_tokens: number;
}): { cost: number; withoutCache: number } {
  const input =
    t.uncached_input_tokens +
    t.cache_read_input_tokens +
    t.cache_write_5m_input_tokens +
    t.cache_write_1h_input_tokens;
  return {
    cost:
      (t.uncached_input_tokens * 3 +
        t.cache_read_input_tokens * 0.3 +
        t.cache_write_5m_input_tokens * 3.75 +
        t.cache_write_1h_input_tokens * 6 +
        t.output_tokens * 15) /
      1e6,
    withoutCache: (input * 3 + t.output_tokens * 15) / 1e6,
  };
}

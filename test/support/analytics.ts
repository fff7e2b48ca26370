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

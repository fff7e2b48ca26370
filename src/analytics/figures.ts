/** Sums of one group of accounting rows, as the analytics API reports them (snake_case on the wire). */
export interface Figures {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cache_write_5m_tokens: number;
  cache_write_1h_tokens: number;
  uncached_tokens: number;
  /** cache_read_tokens / input_tokens of real requests (0 with no input). */
  token_hit_rate: number;
  /** What the real requests cost (keepalive pings excluded: see keepalive.cost_usd). */
  cost_usd: number;
  /** What the same requests would have cost with no caching at all. */
  cost_without_cache_usd: number;
  saved_usd: number;
  keepalive: KeepaliveFigures;
  /** saved_usd − keepalive.cost_usd: what caching through Stoker saved after paying for its pings. */
  net_saved_usd: number;
}

export interface KeepaliveFigures {
  pings: number;
  cost_usd: number;
  /** Real requests that read an entry which, without the pings, would have lapsed. */
  rewrites_avoided: number;
  /** The writes those requests would have paid, less the reads they paid instead. */
  rewrites_avoided_usd: number;
}

/** Raw sums as SQL returns them (one row per group). */
export interface RawSums {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_5m_tokens: number;
  cache_write_1h_tokens: number;
  uncached_tokens: number;
  cost_usd: number;
  cost_without_cache_usd: number;
  pings: number;
  ping_cost_usd: number;
  rescues: number;
  rescued_usd: number;
}

export const ZERO_SUMS: Readonly<RawSums> = {
  requests: 0,
  input_tokens: 0,
  output_tokens: 0,
  cache_read_tokens: 0,
  cache_write_5m_tokens: 0,
  cache_write_1h_tokens: 0,
  uncached_tokens: 0,
  cost_usd: 0,
  cost_without_cache_usd: 0,
  pings: 0,
  ping_cost_usd: 0,
  rescues: 0,
  rescued_usd: 0,
};

export function addSums(a: RawSums, b: RawSums): RawSums {
  const out = { ...a };
  for (const k of Object.keys(out) as (keyof RawSums)[]) out[k] += b[k];
  return out;
}

/** Money is summed in floating point and reported to the micro-dollar. */
export const usd = (v: number): number => Math.round(v * 1e6) / 1e6;

export function toFigures(s: RawSums): Figures {
  const saved = s.cost_without_cache_usd - s.cost_usd;
  return {
    requests: s.requests,
    input_tokens: s.input_tokens,
    output_tokens: s.output_tokens,
    cache_read_tokens: s.cache_read_tokens,
    cache_write_tokens: s.cache_write_5m_tokens + s.cache_write_1h_tokens,
    cache_write_5m_tokens: s.cache_write_5m_tokens,
    cache_write_1h_tokens: s.cache_write_1h_tokens,
    uncached_tokens: s.uncached_tokens,
    token_hit_rate: s.input_tokens > 0 ? Math.round((s.cache_read_tokens / s.input_tokens) * 1e6) / 1e6 : 0,
    cost_usd: usd(s.cost_usd),
    cost_without_cache_usd: usd(s.cost_without_cache_usd),
    saved_usd: usd(saved),
    keepalive: {
      pings: s.pings,
      cost_usd: usd(s.ping_cost_usd),
      rewrites_avoided: s.rescues,
      rewrites_avoided_usd: usd(s.rescued_usd),
    },
    net_saved_usd: usd(saved - s.ping_cost_usd),
  };
}

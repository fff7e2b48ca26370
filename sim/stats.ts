import type { Provider } from "./errors.ts";

/** Usage of one answered request, in the simulator's accounting terms. */
export interface BilledUsage {
  /** Input tokens billed at the base rate (Anthropic `input_tokens`; OpenAI prompt minus cached). */
  uncached: number;
  read: number;
  write5m: number;
  write1h: number;
  output: number;
}

/** Running totals of one provider in one namespace (`GET /__sim/stats`). */
export interface ProviderTotals {
  /** Requests answered with 2xx and billed. */
  requests: number;
  /** Requests answered with an error status (validation or injected fault). */
  errors: number;
  uncached_input_tokens: number;
  cache_read_input_tokens: number;
  cache_write_5m_input_tokens: number;
  cache_write_1h_input_tokens: number;
  output_tokens: number;
  /** Gemini explicit caches: token-hours of storage billed (created or extended caches, until deleted or expired). */
  storage_token_hours: number;
}

function empty(): ProviderTotals {
  return {
    requests: 0,
    errors: 0,
    uncached_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_write_5m_input_tokens: 0,
    cache_write_1h_input_tokens: 0,
    output_tokens: 0,
    storage_token_hours: 0,
  };
}

/** Totals of the usage the simulator billed, per provider. */
export class Stats {
  anthropic: ProviderTotals = empty();
  openai: ProviderTotals = empty();
  gemini: ProviderTotals = empty();
  /** The OpenAI-compatible providers of `/compat/{preset}` (DeepSeek, xAI, Moonshot, OpenRouter) together. */
  compat: ProviderTotals = empty();
  bedrock: ProviderTotals = empty();

  /** Adds one billed request. */
  bill(provider: Provider, u: BilledUsage): void {
    const t = this[provider];
    t.requests++;
    t.uncached_input_tokens += u.uncached;
    t.cache_read_input_tokens += u.read;
    t.cache_write_5m_input_tokens += u.write5m;
    t.cache_write_1h_input_tokens += u.write1h;
    t.output_tokens += u.output;
  }

  /** Counts one request answered with an error. */
  error(provider: Provider): void {
    this[provider].errors++;
  }

  /** The JSON of `GET /__sim/stats`: per provider and summed. */
  toJSON(): Record<"anthropic" | "openai" | "gemini" | "compat" | "bedrock" | "total", ProviderTotals> {
    const total = empty();
    for (const t of [this.anthropic, this.openai, this.gemini, this.compat, this.bedrock]) {
      for (const k of Object.keys(total) as (keyof ProviderTotals)[]) total[k] += t[k];
    }
    return {
      anthropic: { ...this.anthropic },
      openai: { ...this.openai },
      gemini: { ...this.gemini },
      compat: { ...this.compat },
      bedrock: { ...this.bedrock },
      total,
    };
  }
}

import { DEFAULT_MODELS, type ModelInfo } from "../../src/economics/models.ts";

/**
 * The two price models of the report, as rows of the model table with the multipliers made exact (a table
 * row's read price divided by its input price is 0.1 only up to rounding). Costs are reported as fractions
 * of sending everything uncached, so the absolute price does not matter.
 */
function normalized(id: string, overrides: Partial<ModelInfo>): ModelInfo {
  const row = DEFAULT_MODELS[id];
  if (!row) throw new Error(`bench/economics: model ${id} is not in the table`);
  return { ...row, inputPerMTok: 1, ...overrides };
}

/** Anthropic style: read 0.1, 5m write 1.25, 1h write 2 (claude-sonnet-4-5's multipliers). */
export const ANTHROPIC_STYLE = normalized("claude-sonnet-4-5", {
  cacheRead: 0.1,
  cacheWrite5m: 1.25,
  cacheWrite1h: 2,
});

/**
 * OpenAI style: automatic caching, read 0.1, every uncached prompt token written at the base price (no
 * premium, no choice), in-memory retention modelled as a 5-minute idle TTL (OpenAI says 5-10 minutes; 5 is
 * the conservative end), no 1h option (gpt-5's multipliers).
 */
export const OPENAI_STYLE = normalized("gpt-5", { cacheRead: 0.1, cacheWrite5m: 1, cacheWrite1h: 1 });

export type PriceTableName = "anthropic" | "openai";

/** A price model with the absolute input price of its reference model, to turn fractions into USD. */
export interface PriceTable {
  name: PriceTableName;
  model: ModelInfo;
  /** The model whose multipliers and input price the table uses. */
  reference: string;
  /** USD per million uncached input tokens of `reference`. */
  usdPerMTok: number;
  /** One line for reports: what the table charges. */
  description: string;
}

const usdOf = (id: string): number => DEFAULT_MODELS[id]?.inputPerMTok ?? Number.NaN;

export const PRICE_TABLES: Readonly<Record<PriceTableName, PriceTable>> = {
  anthropic: {
    name: "anthropic",
    model: ANTHROPIC_STYLE,
    reference: "claude-sonnet-4-5",
    usdPerMTok: usdOf("claude-sonnet-4-5"),
    description: "Anthropic-style: read 0.1, 5m write 1.25, 1h write 2, TTL 5 min / 1 h",
  },
  openai: {
    name: "openai",
    model: OPENAI_STYLE,
    reference: "gpt-5",
    usdPerMTok: usdOf("gpt-5"),
    description:
      "OpenAI-style automatic caching: read 0.1, writes at the base price, 5-minute idle TTL, no 1h",
  },
};

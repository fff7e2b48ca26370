import { minCacheableTokens } from "../anthropic/models.ts";

/**
 * The Claude model behind a Bedrock model id: `anthropic.claude-sonnet-4-5-20250929-v1:0`, or a cross-region
 * inference profile (`us.`, `eu.`, `apac.`, `global.` before it). Null for other vendors' models.
 */
export function claudeModel(modelId: string): string | null {
  // An ARN names its model (or inference profile) after the resource type.
  const id = modelId.replace(/^arn:aws[a-z-]*:bedrock:[^:]*:[^:]*:[a-z-]+\//, "");
  const m = /^(?:[a-z]{2,6}\.)?anthropic\.(claude[a-z0-9.-]*?)(?:-v\d+(?::\d+)?)?$/.exec(id);
  return m?.[1] ?? null;
}

/**
 * Minimum tokens per cache checkpoint: Bedrock's table gives, per model, "Minimum number of tokens per cache
 * checkpoint" with the reading "the first cache checkpoint can be defined after 1,024 tokens and the second
 * after 2,048 tokens" (docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html, "How it works", for
 * Claude 3.7 Sonnet). So each checkpoint needs the minimum since the one before it: stricter than Anthropic's
 * API, where only the prefix length counts. The minimum itself is the Claude model's (sim/anthropic/models.ts;
 * Bedrock's table lists the same values, e.g. 1,024 for Claude 3.7 Sonnet, 2,048 for Claude 3.5 Haiku,
 * 4,096 for Claude Haiku 4.5).
 */
export function checkpointMinimum(claude: string): number {
  return minCacheableTokens(claude);
}

/**
 * The 1-hour TTL: "Most models support a 5-minute TTL, while Claude Opus 4.5, Claude Haiku 4.5 and Claude
 * Sonnet 4.5 support an extended 1-hour TTL" (same page, "How it works"). Later Claude generations are taken
 * to support it too (assumed; the page lists no model after them); earlier ones reject `ttl: "1h"`.
 */
export function allowsOneHour(claude: string): boolean {
  const m = /^claude-(?:opus|sonnet|haiku|fable|mythos)-(\d+)(?:-(\d))?(?:-|$)/.exec(claude);
  if (!m) return false;
  const major = Number(m[1]);
  const minor = Number(m[2] ?? 0);
  return major > 4 || (major === 4 && minor >= 5);
}

/** At most this many cache checkpoints per request (the same page's table: 4 for every Claude model). */
export const MAX_CHECKPOINTS = 4;

// Minimum cacheable prefix per model family (README "Minimum cacheable lengths"). Most specific first:
// the first entry whose id is a prefix of the model (at a "-" boundary) wins, so dated ids and aliases match.
const MINIMUMS: ReadonlyArray<readonly [string, number]> = [
  ["claude-mythos-preview", 4096],
  ["claude-opus-5", 512],
  ["claude-fable-5", 512],
  ["claude-mythos-5", 512],
  ["claude-sonnet-5", 1024],
  ["claude-opus-4-8", 1024],
  ["claude-opus-4-7", 4096],
  ["claude-opus-4-6", 4096],
  ["claude-opus-4-5", 4096],
  ["claude-opus-4-1", 1024],
  ["claude-opus-4", 1024],
  ["claude-sonnet-4", 1024],
  ["claude-haiku-4-5", 4096],
  ["claude-3-7-sonnet", 1024],
  ["claude-3-5-sonnet", 1024],
  ["claude-3-opus", 1024],
  ["claude-3-5-haiku", 2048],
  ["claude-3-haiku", 2048],
];

/** Minimum for models the table does not know. */
export const DEFAULT_MIN_CACHEABLE_TOKENS = 1024;

/** The minimum cacheable prefix of a model, in tokens. */
export function minCacheableTokens(model: string): number {
  for (const [prefix, tokens] of MINIMUMS) {
    if (model === prefix || model.startsWith(`${prefix}-`) || model.startsWith(`${prefix}@`)) return tokens;
  }
  return DEFAULT_MIN_CACHEABLE_TOKENS;
}

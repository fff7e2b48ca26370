// Minimum cacheable prefix per model family (README "Minimum cacheable lengths"). Most specific first:
// the first entry whose id is a prefix of the model (at a "-" boundary) wins, so dated ids and aliases match.
//
// Source: platform.claude.com/docs/en/build-with-claude/prompt-caching, "Cache limitations" (the current
// list, checked 2026-12-02 with the search tool): "512 tokens for Claude Opus 5, Claude Fable 5, and Claude
// Mythos 5 / 2,048 tokens for Claude Mythos Preview and Claude Opus 4.7 / 4,096 tokens for Claude Opus 4.6
// and Claude Opus 4.5 / 1,024 tokens for Claude Opus 4.8, Claude Sonnet 5, Claude Sonnet 4.6, Claude Sonnet
// 4.5, Claude Opus 4.1, Claude Opus 4, and Claude Sonnet 4 / 4,096 tokens for Claude Haiku 4.5 / 2,048 tokens
// for Claude Haiku 3.5". Older versions of the page: 1,024 for Sonnet 3.7, 3.5 and Opus 3; 2,048 for Haiku 3.
// The 5.1/5.5 generation matches its 5.0 sibling through the prefix (claude-opus-5-5 -> claude-opus-5); Haiku
// 5.5 is not listed and is taken as Haiku 4.5 (the same assumption as src/economics/models.ts). A test
// (test/sim/model-minimums.test.ts) checks that this table and Stoker's model table agree on every model.
const MINIMUMS: ReadonlyArray<readonly [string, number]> = [
  ["claude-mythos-preview", 2048],
  ["claude-opus-5", 512],
  ["claude-fable-5", 512],
  ["claude-mythos-5", 512],
  ["claude-sonnet-5", 1024],
  ["claude-haiku-5", 4096],
  ["claude-opus-4-8", 1024],
  ["claude-opus-4-7", 2048],
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

/** The table's rows, for the test that compares it with Stoker's model table. */
export const KNOWN_MINIMUMS: ReadonlyArray<readonly [string, number]> = MINIMUMS;

/** Minimum for models the table does not know. */
export const DEFAULT_MIN_CACHEABLE_TOKENS = 1024;

/** The minimum cacheable prefix of a model, in tokens. */
export function minCacheableTokens(model: string): number {
  for (const [prefix, tokens] of MINIMUMS) {
    if (model === prefix || model.startsWith(`${prefix}-`) || model.startsWith(`${prefix}@`)) return tokens;
  }
  return DEFAULT_MIN_CACHEABLE_TOKENS;
}

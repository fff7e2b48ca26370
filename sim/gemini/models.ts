// Minimum cacheable prompt lengths of Gemini's context caching (implicit and explicit). Source:
// ai.google.dev/gemini-api/docs/caching, "Implicit caching" (checked 2026-12-02 with the search tool). The
// page's current table: Gemini 3.5-3.8 Flash 4,096; Gemini 3.1 Pro Preview 4,096; Gemini 2.5 Flash 2,048;
// Gemini 2.5 Pro 2,048. An earlier version (2025-2026-05): Gemini 3 Flash Preview 1,024, Gemini 3 Pro Preview
// 4,096, Gemini 2.5 Flash 1,024, Gemini 2.5 Pro 4,096. Where the versions disagree the simulator takes the
// larger (less favourable) value. src/economics/models.ts carries the same values (test/sim/gemini-models.test.ts).

/** [id prefix, minimum]: the first prefix that matches (at a `-` boundary or the end) wins. */
export const GEMINI_MINIMUMS: readonly [string, number][] = [
  ["gemini-3-flash", 1024],
  ["gemini-3-pro", 4096],
  ["gemini-3.1-pro", 4096],
  ["gemini-3.5-flash", 4096],
  ["gemini-3.6-flash", 4096],
  ["gemini-3.7-flash", 4096],
  ["gemini-3.8-flash", 4096],
  ["gemini-2.5-flash-lite", 2048],
  ["gemini-2.5-flash", 2048],
  ["gemini-2.5-pro", 4096],
];

/** Unlisted models: the largest documented minimum (_choice_: never kinder than the provider). */
export const GEMINI_DEFAULT_MINIMUM = 4096;

/** A model id without the `models/` resource prefix. */
export function bareModel(model: string): string {
  return model.startsWith("models/") ? model.slice("models/".length) : model;
}

/** The minimum cacheable prompt of a Gemini model. */
export function geminiMinimum(model: string): number {
  const id = bareModel(model).toLowerCase();
  for (const [prefix, min] of GEMINI_MINIMUMS) {
    if (id === prefix || id.startsWith(`${prefix}-`)) return min;
  }
  return GEMINI_DEFAULT_MINIMUM;
}

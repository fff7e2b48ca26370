/**
 * Volatile spans: values that change between otherwise equal prompts (dates, times, UUIDs, request ids)
 * and, placed at the head of a system prompt, make every request a cache miss.
 */

const MONTH = "(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\\.?";
const DAY = "(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?";

const PATTERNS = [
  "\\b\\d{4}-\\d{2}-\\d{2}(?:[T ]\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d+)?)?(?:Z|[+-]\\d{2}:?\\d{2})?)?\\b",
  "\\b\\d{1,2}/\\d{1,2}/\\d{2,4}\\b",
  "\\b\\d{1,2}:\\d{2}(?::\\d{2})?\\s?(?:[ap]\\.?m\\.?)?(?=\\W|$)",
  `\\b(?:${DAY} )?${MONTH} \\d{1,2}(?:st|nd|rd|th)?,? \\d{4}\\b`,
  `\\b(?:${DAY} )?\\d{1,2}(?:st|nd|rd|th)? ${MONTH},? \\d{4}\\b`,
  "\\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\b",
  "\\b(?:req|request|trace|session|run|msg|conversation|user)[_ -]?(?:id)?\\s*[:=#]?\\s*[A-Za-z0-9_-]*\\d[A-Za-z0-9_-]{7,}\\b",
  "\\b1[6-9]\\d{8}(?:\\d{3})?\\b",
  "\\b[0-9a-f]{24,}\\b",
];

const VOLATILE = new RegExp(PATTERNS.join("|"), "i");

/** How much of a system prompt counts as its head. */
export const HEAD_CHARS = 4000;

/** Whether the head of a text holds a volatile span. */
export function hasVolatileSpan(text: string): boolean {
  return VOLATILE.test(text.length > HEAD_CHARS ? text.slice(0, HEAD_CHARS) : text);
}

/**
 * Splits the lines of a text's head that hold a volatile span from the rest (the volatileToTail rule).
 * Returns null when there is nothing to move.
 */
export function splitVolatileLines(text: string): { kept: string; moved: string } | null {
  if (!hasVolatileSpan(text)) return null;
  const lines = text.split("\n");
  const kept: string[] = [];
  const moved: string[] = [];
  let offset = 0;
  for (const line of lines) {
    if (offset < HEAD_CHARS && VOLATILE.test(line)) moved.push(line);
    else kept.push(line);
    offset += line.length + 1;
  }
  if (moved.length === 0) return null;
  return { kept: kept.join("\n"), moved: moved.join("\n") };
}

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

const LABELS = ["date", "date", "time", "date", "date", "uuid", "id", "timestamp", "hex"] as const;
const EACH = new RegExp(PATTERNS.map((p) => `(${p})`).join("|"), "gi");
const EXCERPT_CHARS = 120;

/**
 * The first head line holding a volatile span, each span replaced by its kind (`«date»`, `«uuid»`…) and cut
 * to a short window around the first one: what a cache-buster report shows without the values themselves.
 */
export function redactedExcerpt(text: string): string | null {
  const head = text.length > HEAD_CHARS ? text.slice(0, HEAD_CHARS) : text;
  for (const line of head.split("\n")) {
    if (!VOLATILE.test(line)) continue;
    let first = -1;
    const redacted = line.replace(EACH, (...m: unknown[]) => {
      const groups = m.slice(1, 1 + PATTERNS.length);
      const kind = LABELS[groups.findIndex((g) => g !== undefined)] ?? "value";
      const offset = m[1 + PATTERNS.length] as number;
      if (first < 0) first = offset;
      return `«${kind}»`;
    });
    const start = Math.max(0, Math.min(first - 40, redacted.length - EXCERPT_CHARS));
    const cut = redacted.slice(start, start + EXCERPT_CHARS).trim();
    return `${start > 0 ? "…" : ""}${cut}${start + EXCERPT_CHARS < redacted.length ? "…" : ""}`;
  }
  return null;
}

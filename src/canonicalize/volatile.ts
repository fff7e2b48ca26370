/**
 * Volatile spans: values that change between otherwise equal prompts (dates, times, UUIDs, request ids)
 * and, placed at the head of a system prompt, make every request a cache miss.
 */

const MONTH = "(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\\.?";
const DAY = "(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?";

// Each pattern starts with \b and a word character and needs an ASCII digit or 8 hex letters in a row:
// volatileIn relies on both.
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

// With the leading \b taken out of the alternation V8 tries the alternatives only at word starts: the same
// matches, about twice as fast.
const VOLATILE_RE = new RegExp(`\\b(?:${PATTERNS.map((p) => p.slice(2)).join("|")})`, "i");

/**
 * Whether s's first `chars` characters hold a volatile span. Every pattern needs an ASCII digit or, for the
 * UUID and hex ones, a run of 8 hex letters ([0-9a-f] under /i matches nothing beyond ASCII); a text with
 * neither, as most prose, is answered by one pass of this loop instead of the regex (a sixth of its cost;
 * the loop reads s itself, as reading a slice is several times slower).
 */
function volatileIn(s: string, chars = s.length): boolean {
  const end = Math.min(s.length, chars);
  let hexRun = 0;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) return VOLATILE_RE.test(end < s.length ? s.slice(0, end) : s);
    const lower = c | 32;
    if (lower >= 97 && lower <= 102) {
      if (++hexRun >= 8) return VOLATILE_RE.test(end < s.length ? s.slice(0, end) : s);
    } else hexRun = 0;
  }
  return false;
}

/** How much of a system prompt counts as its head. */
export const HEAD_CHARS = 4000;

/** Whether the head of a text holds a volatile span. */
export function hasVolatileSpan(text: string): boolean {
  return volatileIn(text, HEAD_CHARS);
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
    if (offset < HEAD_CHARS && volatileIn(line)) moved.push(line);
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
    if (!volatileIn(line)) continue;
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

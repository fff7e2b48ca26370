/**
 * The top level of a JSON object body, read from its bytes without parsing the whole (issue 18): over the
 * analysis budget a request is forwarded as its bytes, and JSON.parse of a 32 MiB body would hold about 2x
 * the body in the JS heap. Small top-level values (model, stream, max_tokens, stream_options) are parsed;
 * a value over `maxValueBytes` (messages, tools, input) is only crossed, structurally, and stands in the
 * result as an empty container of its type. Syntax inside such a value is left to the provider.
 */

import { StokerError } from "../core/errors.ts";

export interface Span {
  start: number;
  end: number;
}

export interface ShallowBody {
  /** Each top-level field: its value, or for a large one a stand-in of its type (`{}`, `[]`, LARGE_STRING). */
  body: Record<string, unknown>;
  /** Byte spans of each top-level value (the last of duplicate keys, as JSON.parse keeps). */
  spans: Map<string, Span>;
  /** Byte offset just after the opening brace. */
  open: number;
}

/** Stands for a string value too large to decode: non-empty, so a required string passes as present. */
/** Top-level values up to this size are parsed; larger ones are crossed and stand in by their type. */
export const SHALLOW_MAX_VALUE_BYTES = 64 * 1024;

/** Stands for a string value too large to decode: non-empty, so a required string passes as present. */
export const LARGE_STRING = "\u0000(large string not decoded)";

const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const LBRACE = 123;
const RBRACE = 125;
const LBRACK = 91;
const RBRACK = 93;

const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function invalid(detail: string): StokerError {
  return new StokerError(400, "invalid_request_error", `The request body is not valid JSON: ${detail}`);
}

function isWs(c: number | undefined): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function skipWs(b: Uint8Array, i: number): number {
  while (isWs(b[i])) i++;
  return i;
}

/** From an opening quote to just after its closing quote. */
function skipString(b: Uint8Array, i: number): number {
  let j = i + 1;
  for (;;) {
    const q = b.indexOf(QUOTE, j);
    if (q < 0) throw invalid(`unterminated string at byte ${i}`);
    let k = q - 1;
    while (b[k] === BACKSLASH) k--;
    if ((q - 1 - k) % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/**
 * From the first byte of a value to just after it, iteratively (500,000 levels of nesting use no stack):
 * strings by indexOf, brackets matched, anything else crossed.
 */
function skipValue(b: Uint8Array, i: number): number {
  const first = b[i];
  if (first === QUOTE) return skipString(b, i);
  if (first !== LBRACE && first !== LBRACK) {
    let j = i;
    for (
      let c = b[j];
      c !== undefined && c !== COMMA && c !== RBRACE && c !== RBRACK && !isWs(c);
      c = b[++j]
    );
    if (j === i) throw invalid(`expected a value at byte ${i}`);
    return j;
  }
  const closers: number[] = [];
  let j = i;
  for (;;) {
    const c = b[j];
    if (c === undefined) throw invalid("unexpected end of body");
    if (c === QUOTE) {
      j = skipString(b, j);
      continue;
    }
    if (c === LBRACE || c === LBRACK) closers.push(c === LBRACE ? RBRACE : RBRACK);
    else if (c === RBRACE || c === RBRACK) {
      if (closers.pop() !== c) throw invalid(`unexpected ${String.fromCharCode(c)} at byte ${j}`);
      if (closers.length === 0) return j + 1;
    }
    j++;
  }
}

function decode(b: Uint8Array, span: Span): string {
  return text.decode(b.subarray(span.start, span.end));
}

function parse(b: Uint8Array, span: Span): unknown {
  try {
    return JSON.parse(decode(b, span));
  } catch (e) {
    throw invalid(e instanceof SyntaxError ? e.message.slice(0, 200) : `bad value at byte ${span.start}`);
  }
}

/** Whether the bytes are valid UTF-8, decoded a chunk at a time so no body-sized string is made. */
export function isUtf8(b: Uint8Array, chunk = 1 << 20): boolean {
  const d = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  try {
    for (let i = 0; i < b.length; i += chunk) d.decode(b.subarray(i, i + chunk), { stream: true });
    d.decode();
    return true;
  } catch {
    return false;
  }
}

/** The top level of a JSON object body; throws a 400 StokerError where JSON.parse would have. */
export function shallowJson(b: Uint8Array, maxValueBytes = SHALLOW_MAX_VALUE_BYTES): ShallowBody {
  const body: Record<string, unknown> = {};
  const spans = new Map<string, Span>();
  let i = b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
  i = skipWs(b, i);
  if (b[i] !== LBRACE) {
    if (b[i] === undefined) throw invalid("the body is empty");
    // Valid JSON that is not an object is the same 400 as in the parsed path.
    skipValue(b, i);
    throw new StokerError(400, "invalid_request_error", "The request body must be a JSON object.");
  }
  const open = i + 1;
  i = skipWs(b, open);
  if (b[i] === RBRACE) i++;
  else
    for (;;) {
      if (b[i] !== QUOTE) throw invalid(`expected a property name at byte ${i}`);
      const keySpan = { start: i, end: skipString(b, i) };
      i = skipWs(b, keySpan.end);
      if (b[i] !== COLON) throw invalid(`expected ':' at byte ${i}`);
      const start = skipWs(b, i + 1);
      const end = skipValue(b, start);
      const span = { start, end };
      // A key longer than any field Stoker reads is crossed, not decoded.
      if (keySpan.end - keySpan.start <= 256) {
        const key = parse(b, keySpan) as string;
        const value =
          end - start <= maxValueBytes
            ? parse(b, span)
            : b[start] === LBRACE
              ? {}
              : b[start] === LBRACK
                ? []
                : b[start] === QUOTE
                  ? LARGE_STRING
                  : 0;
        // As JSON.parse does: an own property, even for "__proto__".
        Object.defineProperty(body, key, { value, enumerable: true, writable: true, configurable: true });
        spans.set(key, span);
      }
      i = skipWs(b, end);
      if (b[i] === RBRACE) {
        i++;
        break;
      }
      if (b[i] !== COMMA) throw invalid(`expected ',' or '}' at byte ${i}`);
      i = skipWs(b, i + 1);
    }
  if (skipWs(b, i) !== b.length) throw invalid(`unexpected data after the object at byte ${i}`);
  return { body, spans, open };
}

/** `bytes` with `insert` spliced in place of `span` (a new buffer; the old one can go). */
export function splice(bytes: Uint8Array, span: Span, insert: string): Uint8Array {
  const mid = new TextEncoder().encode(insert);
  const out = new Uint8Array(bytes.length - (span.end - span.start) + mid.length);
  out.set(bytes.subarray(0, span.start), 0);
  out.set(mid, span.start);
  out.set(bytes.subarray(span.end), span.start + mid.length);
  return out;
}

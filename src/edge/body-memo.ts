import { Buffer } from "node:buffer";
import { arrayItems, type PathSpans, type ScanHint, skipValue, skipWs } from "../upstream/body/scan.ts";

type Json = Record<string, unknown>;

/**
 * A parsed body the isolate keeps so that the next turn of its conversation parses only what is new: a
 * later request whose bytes repeat this one's through the end of a `messages` item (compared natively,
 * tens of microseconds for 400 KB) takes the items before that point and the top-level fields before
 * `messages` as they were parsed, and JSON.parse reads only the rest. Its text is the kept text's pieces
 * and the rest's, joined without a copy: the request path never reads a later turn's whole text (render
 * edits the bytes), and making it one string would cost about as much as the rest of the request.
 */
interface Layout {
  readonly bytes: Uint8Array;
  readonly raw: string;
  /** `raw` as the strings it was joined from, and where each ends in it (UTF-16 offsets). */
  readonly pieces: readonly Piece[];
  readonly body: Json;
  /** The top-level keys before `messages`, in order (each once in the body). */
  readonly leading: readonly string[];
  readonly items: readonly unknown[];
  /** Where each `messages` item ends in `raw` (UTF-16 offsets) and in `bytes`. */
  readonly itemEnds: readonly number[];
  readonly byteEnds: readonly number[];
}

interface Piece {
  readonly text: string;
  readonly end: number;
  /** The length of the string `text` was sliced from, which it keeps alive (counted against MAX_CHARS). */
  readonly held: number;
}

/** A text joined from more pieces than this is made one string (once every this many turns). */
const MAX_PIECES = 16;

/**
 * Bounded by design: at most MAX_CHARS characters and bytes of kept bodies (their parsed values stay alive with them),
 * MAX_BODIES in all and PER_TENANT per tenant, least recently used first. Keys are tenant ids: a body is
 * only ever compared with and read by its own tenant's requests.
 */
export const MAX_CHARS = 8 * 1024 * 1024;
export const MAX_BODIES = 256;
export const PER_TENANT = 4;
/** Bodies shorter than this parse about as fast as they are compared and kept (bench:engine: a loss at 9 KB, a gain from 80 KB). */
export const MIN_CHARS = 32 * 1024;

const kept = new Map<string, Layout[]>();
let chars = 0;
let count = 0;

/**
 * The text and body of `bytes`, read after a kept body of the tenant's whose bytes they repeat through the
 * end of a `messages` item (compared natively; only the rest is decoded and parsed), or null (read them
 * whole). The result is exactly what decoding and JSON.parse give, or null when the rest is not valid
 * UTF-8 or JSON (the whole read then says why). The parsed values shared with the kept body are never
 * changed by Stoker.
 */
export function parseAfterKept(
  tenantId: string,
  bytes: Uint8Array,
): { raw: string; body: Json; scanHint?: ScanHint } | null {
  if (bytes.length < MIN_CHARS) return null;
  const list = kept.get(tenantId);
  if (!list) return null;
  for (const prev of list) {
    const n = prev.itemEnds.length;
    // Its conversation's next turn (more items after all of these), or a retry with another last item.
    for (let m = n; m >= Math.max(1, n - 1); m--) {
      const at = prev.byteEnds[m - 1] as number;
      if (bytes.length <= at || !samePrefix(bytes, prev.bytes, at)) continue;
      const next = parseRest(bytes, prev, m);
      if (next) {
        keep(tenantId, next, prev);
        const spans = scans.get(prev.body);
        return {
          raw: next.raw,
          body: next.body,
          ...(spans ? { scanHint: { prev: spans, upTo: prev.byteEnds[m - 1] as number } } : {}),
        };
      }
    }
  }
  return null;
}

/**
 * Whether a and b agree on their first `n` bytes: the last few by hand (other conversations differ there),
 * then natively (memcmp; timingSafeEqual is ten times slower and nothing here is secret from the tenant).
 */
function samePrefix(a: Uint8Array, b: Uint8Array, n: number): boolean {
  for (let i = Math.max(0, n - 64); i < n; i++) if (a[i] !== b[i]) return false;
  return Buffer.compare(a.subarray(0, n), b.subarray(0, n)) === 0;
}

/** The render's scan of each kept body's text, for the next turn's render (gone with the body). */
const scans = new WeakMap<Json, PathSpans>();

/** Notes the render's scan of a body's text, for a later turn read after it. */
export function noteScan(body: Json, spans: PathSpans): void {
  scans.set(body, spans);
}

/** Keeps a body read whole, for the next turn (off the request path: it scans the text once). */
export function keepParsed(tenantId: string, bytes: Uint8Array, raw: string, body: Json): void {
  if (bytes.length < MIN_CHARS || raw.length + bytes.length > MAX_CHARS / 4) return;
  const layout = layoutOf(bytes, raw, body);
  if (layout) keep(tenantId, layout, null);
}

function layoutOf(bytes: Uint8Array, raw: string, body: Json): Layout | null {
  try {
    // One pass over the top level; the messages array is crossed once, item by item.
    let j = skipWs(bytes, 0);
    if (bytes[j] !== 123) return null;
    const keys: string[] = [];
    let byteEnds: number[] | null = null;
    j = skipWs(bytes, j + 1);
    while (bytes[j] !== 125) {
      const keyEnd = skipValue(bytes, j);
      const key = JSON.parse(text.decode(bytes.subarray(j, keyEnd))) as string;
      const value = skipWs(bytes, skipWs(bytes, keyEnd) + 1);
      let end: number;
      if (key === "messages" && bytes[value] === 91) {
        byteEnds = arrayItems(bytes, { start: value, end: value }).map((x) => x.end);
        end = skipWs(bytes, byteEnds.at(-1) ?? value + 1) + 1;
      } else end = skipValue(bytes, value);
      keys.push(key);
      j = skipWs(bytes, end);
      if (bytes[j] === 44) j = skipWs(bytes, j + 1);
    }
    const at = keys.indexOf("messages");
    // Each key once (JSON.parse keeps the last of duplicates), `__proto__` never (an own property here).
    if (at < 0 || !byteEnds || new Set(keys).size !== keys.length || keys.includes("__proto__")) return null;
    if (!Array.isArray(body.messages) || byteEnds.length !== body.messages.length || byteEnds.length === 0)
      return null;
    return {
      bytes,
      raw,
      pieces: [{ text: raw, end: raw.length, held: raw.length }],
      body,
      leading: keys.slice(0, at),
      items: body.messages,
      // All ASCII (as most SDKs send): bytes and characters line up.
      itemEnds: bytes.length === raw.length ? byteEnds : charOffsets(bytes, 0, 0, byteEnds),
      byteEnds,
    };
  } catch {
    return null;
  }
}

/** The body past item m of `prev` (the bytes before are the same), or null. */
function parseRest(bytes: Uint8Array, prev: Layout, m: number): Layout | null {
  try {
    const from = prev.itemEnds[m - 1] as number;
    const fromByte = prev.byteEnds[m - 1] as number;
    // Item ends are ASCII (a bracket, brace, quote or literal): the rest starts on a character boundary.
    const rest = utf8.decode(bytes.subarray(fromByte));
    const byteEnds = prev.byteEnds.slice(0, m);
    let j = skipWs(bytes, fromByte);
    const first = j + 1;
    while (bytes[j] === 44) {
      const end = skipValue(bytes, skipWs(bytes, j + 1));
      byteEnds.push(end);
      j = skipWs(bytes, end);
    }
    if (bytes[j] !== 93) return null;
    const k = skipWs(bytes, j + 1);
    // Where the rest's text has the byte offsets it is cut at (UTF-16 offsets into `rest`).
    const cuts = [first, j, k, ...byteEnds.slice(m)];
    const [firstAt, closeAt, kAt, ...ends] =
      rest.length === bytes.length - fromByte
        ? cuts.map((b) => b - fromByte)
        : charOffsets(bytes, fromByte, 0, cuts);
    const added = byteEnds.length > m ? (JSON.parse(`[${rest.slice(firstAt, closeAt)}]`) as unknown[]) : [];
    if (added.length !== byteEnds.length - m) return null;
    let after: Json = {};
    if (bytes[k] === 44) {
      // A member must follow the comma (`{}` would accept a trailing one).
      if (bytes[skipWs(bytes, k + 1)] !== 34) return null;
      after = JSON.parse(`{${rest.slice((kAt as number) + 1)}`) as Json;
    } else if (bytes[k] !== 125 || skipWs(bytes, k + 1) !== bytes.length) return null;
    const later = Object.keys(after);
    if (later.some((key) => key === "messages" || key === "__proto__" || prev.leading.includes(key)))
      return null;
    const body: Json = {};
    for (const key of prev.leading) body[key] = prev.body[key];
    const items = [...prev.items.slice(0, m), ...added];
    body.messages = items;
    for (const key of later) body[key] = after[key];
    const pieces = [
      ...piecesBefore(prev.pieces, from),
      { text: rest, end: from + rest.length, held: rest.length },
    ];
    let raw = "";
    for (const p of pieces) raw += p.text;
    return {
      bytes,
      raw,
      pieces: pieces.length > MAX_PIECES ? [{ text: flat(raw), end: raw.length, held: raw.length }] : pieces,
      body,
      leading: prev.leading,
      items,
      itemEnds: [...prev.itemEnds.slice(0, m), ...ends.map((c) => from + c)],
      byteEnds,
    };
  } catch {
    return null;
  }
}

/** The pieces of a text through its offset `to`: those before it, and a slice of the one it falls in. */
function piecesBefore(pieces: readonly Piece[], to: number): Piece[] {
  const out: Piece[] = [];
  let start = 0;
  for (const p of pieces) {
    if (p.end > to) {
      if (to > start) out.push({ text: p.text.slice(0, to - start), end: to, held: p.held });
      break;
    }
    out.push(p);
    start = p.end;
  }
  return out;
}

/** `s` made one string (its first read would do it; here it happens once every MAX_PIECES turns, on purpose). */
function flat(s: string): string {
  s.charCodeAt(0);
  return s;
}

const text = new TextDecoder();

/**
 * The UTF-16 offsets of byte offsets `ends` (on character boundaries, at or after `fromByte`, which is
 * `from`), in one pass over the bytes they span.
 */
function charOffsets(bytes: Uint8Array, fromByte: number, from: number, ends: readonly number[]): number[] {
  const order = ends.map((_, i) => i).sort((x, y) => (ends[x] as number) - (ends[y] as number));
  const out = new Array<number>(ends.length);
  let b = fromByte;
  let c = from;
  for (const i of order) {
    const end = ends[i] as number;
    c += text.decode(bytes.subarray(b, end)).length;
    b = end;
    out[i] = c;
  }
  return out;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function keep(tenantId: string, layout: Layout, replaces: Layout | null): void {
  const list = kept.get(tenantId) ?? [];
  const old = replaces ? list.indexOf(replaces) : -1;
  // The body it was parsed after stays: a retry of that turn (another last message) still finds it.
  if (old > 0) list.unshift(...list.splice(old, 1));
  list.unshift(layout);
  chars += size(layout);
  count++;
  while (list.length > PER_TENANT) drop(list, list.length - 1);
  kept.delete(tenantId);
  kept.set(tenantId, list);
  for (const [other, l] of kept) {
    const over = () => chars > MAX_CHARS || count > MAX_BODIES;
    if (!over()) break;
    while (l.length > (other === tenantId ? 1 : 0) && over()) drop(l, l.length - 1);
    if (l.length === 0) kept.delete(other);
  }
}

/** What a kept body counts against MAX_CHARS: the strings its text keeps alive, and its bytes. */
function size(layout: Layout): number {
  let held = 0;
  for (const p of layout.pieces) held += p.held;
  return held + layout.bytes.length;
}

function drop(list: Layout[], at: number): void {
  const [gone] = list.splice(at, 1);
  if (!gone) return;
  chars -= size(gone);
  count--;
}

/** What the memo holds (tests). */
export function bodyMemoSize(): { bodies: number; chars: number } {
  return { bodies: count, chars };
}

/** Forgets every kept body (tests). */
export function clearBodyMemo(): void {
  kept.clear();
  chars = 0;
  count = 0;
}

import { Buffer } from "node:buffer";
import {
  arrayItems,
  type PathSpans,
  type ScanHint,
  type Span,
  skipValue,
  skipWs,
} from "../upstream/body/scan.ts";

type Json = Record<string, unknown>;

/** The kept body's bytes that a body read after it repeats, byte for byte, through `through`. */
export interface RepeatedBytes {
  readonly bytes: Uint8Array;
  readonly through: number;
}

/**
 * A parsed body the isolate keeps so that the next turn of its conversation parses only what is new: a
 * later request whose text repeats this one's through the end of a `messages` item (a string comparison,
 * tens of microseconds for 400 KB) takes the items before that point and the top-level fields before
 * `messages` as they were parsed, and JSON.parse reads only the rest. A new conversation of the same
 * family (the same tools and system) repeats it through where `messages` opens, or through its first item
 * when that is the system message: it is read the same way when that part is a large enough share of it.
 */
interface Layout {
  readonly bytes: Uint8Array;
  readonly raw: string;
  readonly body: Json;
  /** The top-level keys before `messages`, in order (each once in the body). */
  readonly leading: readonly string[];
  readonly items: readonly unknown[];
  /**
   * Where the first m `messages` items end, at m, in `raw` (UTF-16 offsets) and in `bytes`: at 0 just after
   * the array's `[`, where a body of another conversation that has the same fields before `messages` stops
   * agreeing; at the items' count, where the last item ends.
   */
  readonly ends: readonly number[];
  readonly byteEnds: readonly number[];
}

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
/**
 * From this length the joined text is read in its two parts (scan.ts TextView) and made flat only after the
 * answer: V8 allocates a string this long as a large object, in fresh pages (flattening 400K characters
 * took 1.0-1.4 ms in Node here, 100 page faults), and a shorter one in its young space, whose pages it
 * reuses (0.01 ms at 120K characters). Below, the parts cost more than they spare (ab.ts at 20K tokens, 83
 * KB: OpenAI first requests 0.5-0.9 ms slower in four runs; with this bound, 0.09-0.24 ms faster).
 */
export const SPLIT_MIN_CHARS = 128 * 1024;

/**
 * A body that repeats a kept one only through its opening (another conversation of the family) or its first
 * item is read after it from this share of its bytes on. Measured in workerd (`npx vitest run --config
 * bench/engine/probe.config.ts`: 100K-token bodies, openings of 10-80 %, three rounds, read plus what each
 * way leaves for after the response): from a fifth to a half, 0.58-1.24 ms against 1.05-1.76 ms read whole
 * in every round; at a tenth, faster in two rounds and slower in one. At 80 % that probe found it slower
 * (1.24-1.90 against 0.86-1.21 ms; cause not found), where bench:engine's openings (95 %, with the analysis
 * that then compares the head by identity) are faster (0.64 against 1.37 ms).
 */
export const MIN_OPENING_SHARE = 0.25;

const kept = new Map<string, Layout[]>();
let chars = 0;
let count = 0;

/**
 * The text and body of `bytes`, read after a kept body of the tenant's whose bytes they repeat through the
 * end of a `messages` item or where `messages` opens (compared natively; only the rest is decoded and
 * parsed), or null (read them whole). The result is exactly what decoding and JSON.parse give, or null
 * when the rest is not valid UTF-8 or JSON (the whole read then says why). The parsed values shared with
 * the kept body are never changed by Stoker.
 */
export function parseAfterKept(
  tenantId: string,
  bytes: Uint8Array,
  minOpeningShare = MIN_OPENING_SHARE,
): {
  raw: string;
  body: Json;
  sharedWith: Json;
  repeats: RepeatedBytes;
  scanHint?: ScanHint;
} | null {
  if (bytes.length < MIN_CHARS) return null;
  const list = kept.get(tenantId);
  if (!list) return null;
  for (const prev of list) {
    const n = prev.ends.length - 1;
    for (const m of repeatedItems(n)) {
      const at = prev.byteEnds[m] as number;
      // Through its opening or first item alone (another conversation of the family) only where that pays.
      if (m < Math.max(n - 1, 1) && at < bytes.length * minOpeningShare) continue;
      if (bytes.length <= at || !samePrefix(bytes, prev.bytes, at)) continue;
      const parsed = parseRest(bytes, prev, m);
      if (parsed) {
        const next = parsed.layout;
        keep(tenantId, next, prev);
        const spans = scans.get(prev.body);
        const upTo = prev.ends[m] as number;
        const read = {
          raw: next.raw,
          body: next.body,
          sharedWith: prev.body,
          repeats: { bytes: prev.bytes, through: at },
        };
        if (!spans) return read;
        if (next.raw.length < SPLIT_MIN_CHARS) return { ...read, scanHint: { prev: spans, upTo } };
        // The render reads the text as the kept one's head and the rest, never joined (scan.ts TextView).
        const parts = { head: prev.raw, tail: parsed.rest, within: ["messages"] };
        return { ...read, scanHint: { prev: spans, upTo, parts } };
      }
    }
  }
  return null;
}

/**
 * How many of a kept body's `n` messages items a later body may repeat, most first: all (its conversation's
 * next turn), all but the last (a retry with another last item), the first (a new conversation after the
 * same system message, as OpenAI's bodies carry it) or none (after the same tools and system, as
 * Anthropic's carry them before `messages`).
 */
function repeatedItems(n: number): number[] {
  return [...new Set([n, n - 1, 1, 0])].filter((m) => m >= 0 && m <= n);
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

/** Notes the render's scan of a body's text, for a later turn read after it (what it needs of it: `pruned`). */
export function noteScan(body: Json, spans: PathSpans): void {
  scans.set(body, spans.pruned());
}

let _lastRead = 0;

/**
 * Makes the text `parseAfterKept` joined (the kept text's head and the new rest) one flat string, as the
 * next turn reads it: a copy of the whole body (32 KB to 1 MB), made once the answer is out (the proxy's
 * outcome hook) so that no request waits on it. V8 flattens a joined string in place on its first
 * character read.
 */
export function flattenJoined(raw: string): void {
  // Kept, so that the read is never optimized away.
  _lastRead = raw.charCodeAt(0);
}

/**
 * Keeps a body read whole, for the next turn (off the request path): laid out from the render's scan of its
 * text when one was noted (`noteScan`), else from a scan of its own.
 */
export function keepParsed(tenantId: string, bytes: Uint8Array, raw: string, body: Json): void {
  if (bytes.length < MIN_CHARS || raw.length + bytes.length > MAX_CHARS / 4) return;
  const layout = layoutOf(bytes, raw, body);
  if (layout) keep(tenantId, layout, null);
}

function layoutOf(bytes: Uint8Array, raw: string, body: Json): Layout | null {
  try {
    const spans = scans.get(body);
    // From the render's scan of this text where it has what is needed, else from a scan of its own.
    return (
      (spans ? layoutFrom(bytes, raw, body, topLevelScanned(raw, spans)) : null) ??
      layoutFrom(bytes, raw, body, topLevel(raw))
    );
  } catch {
    return null;
  }
}

function layoutFrom(bytes: Uint8Array, raw: string, body: Json, top: TopLevel | null): Layout | null {
  if (!top) return null;
  const { keys, ends } = top;
  const at = keys.indexOf("messages");
  // Each key once (JSON.parse keeps the last of duplicates), `__proto__` never (an own property here).
  if (at < 0 || !ends || new Set(keys).size !== keys.length || keys.includes("__proto__")) return null;
  if (!Array.isArray(body.messages) || ends.length - 1 !== body.messages.length || ends.length === 1)
    return null;
  return {
    bytes,
    raw,
    body,
    leading: keys.slice(0, at),
    items: body.messages,
    ends,
    // All ASCII (as most SDKs send): bytes and characters line up.
    byteEnds: bytes.length === raw.length ? ends : byteOffsets(raw, 0, 0, ends),
  };
}

/** The top-level keys in order and the `messages` item ends (`Layout.ends`), or null when it is no object. */
interface TopLevel {
  keys: string[];
  ends: number[] | null;
}

/** One pass over the top level; the messages array is crossed once, item by item. */
function topLevel(raw: string): TopLevel | null {
  let j = skipWs(raw, 0);
  if (raw.charCodeAt(j) !== 123) return null;
  const keys: string[] = [];
  let ends: number[] | null = null;
  j = skipWs(raw, j + 1);
  while (raw.charCodeAt(j) !== 125) {
    const keyEnd = skipValue(raw, j);
    const key = JSON.parse(raw.slice(j, keyEnd)) as string;
    const value = skipWs(raw, skipWs(raw, keyEnd) + 1);
    let end: number;
    if (key === "messages" && raw.charCodeAt(value) === 91) {
      ends = messageEnds(raw, value, null);
      end = skipWs(raw, ends.at(-1) as number) + 1;
    } else end = skipValue(raw, value);
    keys.push(key);
    j = skipWs(raw, end);
    if (raw.charCodeAt(j) === 44) j = skipWs(raw, j + 1);
  }
  return { keys, ends };
}

/**
 * The same from the render's scan of this text, which lists the top level and, when it looked for a path in
 * `messages` (a breakpoint, an edit), walked its items: the text is then not crossed again.
 */
function topLevelScanned(raw: string, spans: PathSpans): TopLevel | null {
  const entries = spans.entries([]);
  if (!entries) return null;
  const keys = entries.map((e) => e.key);
  const last = entries.findLast((e) => e.key === "messages");
  if (!last || raw.charCodeAt(last.start) !== 91) return { keys, ends: null };
  const ends = messageEnds(raw, last.start, spans.items(["messages"]));
  // The scan was of this text: each item ends before a comma, the last before the array's `]`.
  for (let m = 1; m < ends.length; m++)
    if (raw.charCodeAt(skipWs(raw, ends[m] as number)) !== (m === ends.length - 1 ? 93 : 44)) return null;
  return { keys, ends };
}

/** `Layout.ends` of the array at `open` (its `[`), from its items as a scan found them or scanned here. */
function messageEnds(raw: string, open: number, items: readonly Span[] | null): number[] {
  return [open + 1, ...(items ?? arrayItems(raw, { start: open, end: open })).map((x) => x.end)];
}

/** The body past the first m items of `prev` (the bytes before are the same), and its text from there; or null. */
function parseRest(bytes: Uint8Array, prev: Layout, m: number): { layout: Layout; rest: string } | null {
  try {
    const from = prev.ends[m] as number;
    const fromByte = prev.byteEnds[m] as number;
    // Item ends and the array's `[` are ASCII: the rest starts on a character boundary.
    // Only the rest is read here: the joined text (`raw`) is left unflattened (a copy of the whole body).
    const rest = utf8.decode(bytes.subarray(fromByte));
    const raw = prev.raw.slice(0, from) + rest;
    const ends = prev.ends.slice(0, m + 1);
    let j = skipWs(rest, 0);
    let first = j + 1;
    if (m === 0) {
      // Past the array's `[`: the first item comes without a comma (a body without items is read whole).
      if (rest.charCodeAt(j) === 93) return null;
      first = j;
      const end = skipValue(rest, j);
      ends.push(from + end);
      j = skipWs(rest, end);
    }
    while (rest.charCodeAt(j) === 44) {
      const end = skipValue(rest, skipWs(rest, j + 1));
      ends.push(from + end);
      j = skipWs(rest, end);
    }
    if (rest.charCodeAt(j) !== 93) return null;
    const count = ends.length - 1 - m;
    const added = count > 0 ? (JSON.parse(`[${rest.slice(first, j)}]`) as unknown[]) : [];
    if (added.length !== count) return null;
    const k = skipWs(rest, j + 1);
    let after: Json = {};
    if (rest.charCodeAt(k) === 44) {
      // A member must follow the comma (`{}` would accept a trailing one).
      if (rest.charCodeAt(skipWs(rest, k + 1)) !== 34) return null;
      after = JSON.parse(`{${rest.slice(k + 1)}`) as Json;
    } else if (rest.charCodeAt(k) !== 125 || skipWs(rest, k + 1) !== rest.length) return null;
    const later = Object.keys(after);
    if (later.some((key) => key === "messages" || key === "__proto__" || prev.leading.includes(key)))
      return null;
    const body: Json = {};
    for (const key of prev.leading) body[key] = prev.body[key];
    const items = [...prev.items.slice(0, m), ...added];
    body.messages = items;
    for (const key of later) body[key] = after[key];
    const addedEnds = ends.slice(m + 1).map((end) => end - from);
    const byteEnds = [...prev.byteEnds.slice(0, m + 1), ...byteOffsets(rest, 0, fromByte, addedEnds)];
    return { layout: { bytes, raw, body, leading: prev.leading, items, ends, byteEnds }, rest };
  } catch {
    return null;
  }
}

const encoder = new TextEncoder();
const scratch = new Uint8Array(64 * 1024);

/** The UTF-8 offsets of `ends` (UTF-16 offsets in `raw`, from `from`, which is byte `fromByte`). */
function byteOffsets(raw: string, from: number, fromByte: number, ends: readonly number[]): number[] {
  const out: number[] = [];
  let i = from;
  let b = fromByte;
  for (const end of ends) {
    // Encoded natively, a window at a time; a window never ends inside a surrogate pair (item ends fall
    // between characters).
    while (i < end) {
      let stop = Math.min(end, i + 16 * 1024);
      const last = raw.charCodeAt(stop - 1);
      if (stop < end && last >= 0xd800 && last <= 0xdbff) stop--;
      const { read, written } = encoder.encodeInto(raw.slice(i, stop), scratch);
      if (read === 0) throw new Error("nothing encoded");
      i += read;
      b += written;
    }
    out.push(b);
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

/** What a kept body counts against MAX_CHARS: its text and its bytes. */
function size(layout: Layout): number {
  return layout.raw.length + layout.bytes.length;
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

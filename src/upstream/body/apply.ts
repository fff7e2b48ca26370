import type { CanonicalEdit } from "../../prefix/types.ts";
import { PathSpans, type ScanHint, type Span, type TextView, textOf } from "./scan.ts";

type Path = readonly (string | number)[];
type Json = Record<string, unknown>;

/** A cache marker to put on the block at `path` (or on the string content at `path`, wrapped into a block). */
export interface Marker {
  path: Path;
  key: string;
  value: Json;
  /** Block type to wrap string content into ("text", "input_text"). */
  textType: string;
  /** The string is a whole Responses `input`: wrap it into a user message too. */
  asUserMessage?: boolean;
}

export interface TopLevelField {
  key: string;
  value: unknown;
}

interface Op {
  start: number;
  end: number;
  text: string;
}

const isPrefix = (p: Path, q: Path): boolean => p.length <= q.length && p.every((s, i) => s === q[i]);

function wrapped(text: string, m: Marker): Json {
  return { type: m.textType, text, [m.key]: m.value };
}

/**
 * Produces the forwarded body by editing the client's bytes: canonical values replace only the parts that
 * changed, markers are inserted before a block's closing brace, top-level fields before the root's. Markers
 * that fall inside a replaced value go into that value. With nothing to do it returns `raw` itself; a
 * marker or field already present is left alone, so applying a plan twice changes nothing.
 */
export function applyToBody(
  raw: string,
  edits: readonly CanonicalEdit[],
  markers: readonly Marker[],
  top: readonly TopLevelField[],
): string {
  return renderBody(raw, edits, markers, top).text;
}

/** A forwarded body, and the same body with one more entry first in its root object. */
export interface RenderedBody {
  readonly text: string;
  /**
   * The body with `field` (a `"key":value` text) as its root object's first entry. Joined from the same
   * pieces as `text`: editing `text` itself would copy the whole body first (0.5 ms at 100K tokens).
   */
  withLeadingField(field: string): string;
  /**
   * The body (with `field` first, when given) as UTF-8, built from `rawBytes`, the request's own bytes, and
   * the edits alone: no string of the whole body is made or encoded (0.4 ms at 100K tokens). Null when the
   * text is not all ASCII (string offsets are not byte offsets): encode `text` instead.
   */
  bytes(rawBytes: Uint8Array, field?: string): Uint8Array | null;
  /** The scan of the request's text, for the next turn's (`ScanHint`); null when nothing was scanned. */
  readonly spans: PathSpans | null;
}

/** `applyToBody`, keeping its pieces for `withLeadingField`. */
export function renderBody(
  raw: string,
  edits: readonly CanonicalEdit[],
  markers: readonly Marker[],
  top: readonly TopLevelField[],
  hint?: ScanHint,
): RenderedBody {
  return render(raw, edits, markers, top, hint, true);
}

function render(
  raw: string,
  edits: readonly CanonicalEdit[],
  markers: readonly Marker[],
  top: readonly TopLevelField[],
  hint: ScanHint | undefined,
  reuse: boolean,
): RenderedBody {
  if (edits.length === 0 && markers.length === 0 && top.length === 0)
    return rendered(textOf(raw, hint), [], null);
  const values = edits.map((e) => e.value);
  const ops: Op[] = [];
  // Markers that fall inside a replaced value go into that value; the others need their block's span.
  const outside: Marker[] = [];
  for (const m of markers) {
    const e = edits.findIndex((ed) => isPrefix(ed.path, m.path));
    if (e >= 0) values[e] = markInside(values[e], m.path.slice((edits[e] as CanonicalEdit).path.length), m);
    else outside.push(m);
  }
  // An earlier turn's edit (the same object: canonicalize/resume.ts) in an item this text repeats keeps the
  // op that turn's render made: its path is not looked for again.
  const prior = reuse && hint ? keptOps.get(hint.prev) : undefined;
  const reused = edits.map((e, i) => {
    const k = prior?.[i];
    return k && k.edit === e && values[i] === e.value && hint && k.item.end <= hint.upTo ? k : undefined;
  });
  // One pass over the body finds every span needed (the root's entries included), and lists the items of
  // the arrays edits are in: a kept op is checked against them, and the next turn's are kept with them.
  const loc = new PathSpans(
    raw,
    edits.filter((_, i) => reused[i] === undefined).map((e) => e.path),
    outside.map((m) => m.path),
    hint,
    containers(edits),
  );
  // A kept op whose item is not where it was (a key repeated past the repeated text, say): all found anew.
  if (reused.some((k) => k !== undefined && !sameSpan(itemOf(loc, k.edit.path), k.item)))
    return render(raw, edits, markers, top, hint, false);
  const kept = edits.map((e, i): KeptOp | undefined => {
    const k = reused[i];
    if (k || values[i] !== e.value) return k;
    const span = loc.span(e.path);
    const item = span && itemOf(loc, e.path);
    return item
      ? { edit: e, op: { start: span.start, end: span.end, text: jsonOf(e.value) }, item }
      : undefined;
  });
  // Read through the scan's view: a later turn's text is never joined into one string here.
  const text = loc.takeView();

  for (const m of outside) {
    const span = loc.span(m.path);
    if (!span) continue;
    const c = text.code(span.start);
    const marker = JSON.stringify(m.value);
    if (c === 123) {
      const entries = loc.entries(m.path) ?? [];
      if (entries.some((x) => x.key === m.key)) continue;
      const empty = entries.length === 0;
      ops.push({
        start: span.end - 1,
        end: span.end - 1,
        text: `${empty ? "" : ","}${JSON.stringify(m.key)}:${marker}`,
      });
    } else if (c === 34) {
      const block = `{"type":${JSON.stringify(m.textType)},"text":${text.slice(span.start, span.end)},${JSON.stringify(m.key)}:${marker}}`;
      ops.push({
        start: span.start,
        end: span.end,
        text: m.asUserMessage ? `[{"role":"user","content":[${block}]}]` : `[${block}]`,
      });
    }
  }

  edits.forEach((e, i) => {
    const k = kept[i];
    if (k) ops.push(k.op);
    else {
      const span = loc.span(e.path);
      if (span) ops.push({ start: span.start, end: span.end, text: jsonOf(values[i]) });
    }
  });

  const root = loc.span([]);
  const rootEntries = loc.entries([]);
  if (root && rootEntries && text.code(root.start) === 123) {
    const fields = top.filter((f) => !rootEntries.some((x) => x.key === f.key));
    if (fields.length > 0) {
      const empty = rootEntries.length === 0;
      const text = fields.map((f) => `${JSON.stringify(f.key)}:${JSON.stringify(f.value)}`).join(",");
      ops.push({ start: root.end - 1, end: root.end - 1, text: `${empty ? "" : ","}${text}` });
    }
  }
  ops.sort((x, y) => x.start - y.start);
  keptOps.set(loc, kept);
  return rendered(text, ops, loc);
}

/**
 * An edit's op as a render made it, and the array item that holds it: a later turn's render whose text
 * repeats that item, found where it was, makes the same op (the item's characters are the same, and so is
 * how the path resolves from the root to it: an array the root names again after the repeated text, which
 * the scan reads instead as JSON.parse does, has no item there).
 */
interface KeptOp {
  readonly edit: CanonicalEdit;
  readonly op: Op;
  /** The item at the path's second step of the array at its first. */
  readonly item: Span;
}

/**
 * Per scan, the ops its render made for its edits (by edit index; none where a marker went into the
 * value), for the render of the next turn, whose hint the scan is. Kept as long as the scan is.
 */
const keptOps = new WeakMap<PathSpans, readonly (KeptOp | undefined)[]>();

/** The arrays edits are items of or in (`["messages"]`, `["tools"]`): the scan lists their items. */
function containers(edits: readonly CanonicalEdit[]): (readonly (string | number)[])[] {
  const keys = new Set<string>();
  for (const e of edits) {
    const [first, second] = e.path;
    if (typeof first === "string" && typeof second === "number") keys.add(first);
  }
  return [...keys].map((k) => [k]);
}

/** The item holding a path (`[key, index, ...]`, into an array at the root) in the scan, or null. */
function itemOf(loc: PathSpans, path: readonly (string | number)[]): Span | null {
  const [first, second] = path;
  if (typeof first !== "string" || typeof second !== "number") return null;
  return loc.items([first])?.[second] ?? null;
}

const sameSpan = (a: Span | null, b: Span): boolean => a !== null && a.start === b.start && a.end === b.end;

/**
 * The JSON of edit values, kept as long as the value lives: a later turn's edits carry its earlier turns'
 * value objects (canonicalize/resume.ts), which are never changed once made.
 */
const valueJson = new WeakMap<object, string>();

function jsonOf(value: unknown): string {
  if (typeof value !== "object" || value === null) return JSON.stringify(value);
  let json = valueJson.get(value);
  if (json === undefined) {
    json = JSON.stringify(value);
    valueJson.set(value, json);
  }
  return json;
}

/** The body `ops` make of `raw`. */
function rendered(raw: TextView, ops: readonly Op[], spans: PathSpans | null): RenderedBody {
  const withLead = (field: string | undefined): readonly Op[] => {
    if (field === undefined) return ops;
    const open = raw.ws(0);
    if (raw.code(open) !== 123) return ops;
    // Only an empty root takes no comma after it (an op on an empty root adds a top-level field).
    const empty = raw.code(raw.ws(open + 1)) === 125 && ops.length === 0;
    return [{ start: open + 1, end: open + 1, text: empty ? field : `${field},` }, ...ops];
  };
  return {
    text: join(raw, ops),
    withLeadingField: (field) => join(raw, withLead(field)),
    bytes: (rawBytes, field) =>
      rawBytes.length === raw.length ? joinBytes(rawBytes, withLead(field)) : null,
    spans,
  };
}

const utf8 = new TextEncoder();

/**
 * `join` over the bytes of an all-ASCII text (its string offsets are its byte offsets). The ops' texts are
 * encoded in one call where they are ASCII too: a call per op cost more than copying the body (bench:engine,
 * 0.2 of 0.23 ms at 100K tokens in workerd).
 */
function joinBytes(rawBytes: Uint8Array, ops: readonly Op[]): Uint8Array {
  let texts = "";
  for (const op of ops) texts += op.text;
  const encoded = utf8.encode(texts);
  const parts =
    encoded.length === texts.length
      ? opBytes(ops, encoded)
      : ops.map((op) => ({ op, bytes: utf8.encode(op.text) }));
  const length = parts.reduce((n, p) => n + p.bytes.length - (p.op.end - p.op.start), rawBytes.length);
  const out = new Uint8Array(length);
  let at = 0;
  let written = 0;
  for (const { op, bytes } of parts) {
    out.set(rawBytes.subarray(at, op.start), written);
    written += op.start - at;
    out.set(bytes, written);
    written += bytes.length;
    at = op.end;
  }
  out.set(rawBytes.subarray(at), written);
  return out;
}

/** Each op's bytes as a view of `encoded`, the ASCII encoding of their texts in order. */
function opBytes(ops: readonly Op[], encoded: Uint8Array): { op: Op; bytes: Uint8Array }[] {
  let from = 0;
  return ops.map((op) => {
    const bytes = encoded.subarray(from, from + op.text.length);
    from += op.text.length;
    return { op, bytes };
  });
}

/** `raw` with each op's span replaced by its text (ops sorted by start, not overlapping). */
function join(raw: TextView, ops: readonly Op[]): string {
  if (ops.length === 0) return raw.slice(0, raw.length);
  let out = "";
  let at = 0;
  for (const op of ops) {
    out += raw.slice(at, op.start) + op.text;
    at = op.end;
  }
  return out + raw.slice(at, raw.length);
}

// Puts a marker into a replacement value at a relative path, copying only along that path.
function markInside(value: unknown, rel: Path, m: Marker): unknown {
  if (rel.length === 0) {
    if (typeof value === "string")
      return m.asUserMessage ? [{ role: "user", content: [wrapped(value, m)] }] : [wrapped(value, m)];
    if (Array.isArray(value)) return markInside(value, [0], m);
    if (typeof value === "object" && value !== null) return { ...(value as Json), [m.key]: m.value };
    return value;
  }
  const [step, ...rest] = rel;
  if (Array.isArray(value) && typeof step === "number") {
    const copy = [...value];
    copy[step] = markInside(copy[step], rest, m);
    return copy;
  }
  if (typeof value === "object" && value !== null && typeof step === "string") {
    return { ...(value as Json), [step]: markInside((value as Json)[step], rest, m) };
  }
  return value;
}

/**
 * A structural JSON scanner over the raw body text: finds where values start and end without parsing
 * them. Strings are skipped with indexOf, so a 500 KB body is crossed in a fraction of a millisecond.
 * Offsets are UTF-16 indices into the string (the body is edited as a string).
 */

export interface Span {
  start: number;
  end: number;
}

export interface Entry extends Span {
  key: string;
}

const QUOTE = 34;
const BACKSLASH = 92;

export function skipWs(s: string, i: number): number {
  let c = s.charCodeAt(i);
  while (c === 32 || c === 10 || c === 13 || c === 9) c = s.charCodeAt(++i);
  return i;
}

/** From an opening quote to just after its closing quote. */
export function skipString(s: string, i: number): number {
  let j = i + 1;
  for (;;) {
    const q = s.indexOf('"', j);
    if (q < 0) throw new SyntaxError("unterminated string in body");
    let b = q - 1;
    while (s.charCodeAt(b) === BACKSLASH) b--;
    if ((q - 1 - b) % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/** From the first character of a value to just after it. */
export function skipValue(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === QUOTE) return skipString(s, i);
  if (c === 123 || c === 91) {
    const close = c === 123 ? 125 : 93;
    let j = skipWs(s, i + 1);
    if (s.charCodeAt(j) === close) return j + 1;
    for (;;) {
      if (c === 123) {
        j = skipWs(s, skipString(s, j));
        j = skipWs(s, j + 1);
      }
      j = skipWs(s, skipValue(s, j));
      const d = s.charCodeAt(j);
      if (d === close) return j + 1;
      if (d !== 44) throw new SyntaxError(`unexpected character at ${j} in body`);
      j = skipWs(s, j + 1);
    }
  }
  let j = i;
  for (;;) {
    const d = s.charCodeAt(j);
    if (d === 44 || d === 125 || d === 93 || d === 32 || d === 10 || d === 13 || d === 9 || Number.isNaN(d))
      return j;
    j++;
  }
}

function key(s: string, start: number, end: number): string {
  const inner = s.slice(start + 1, end - 1);
  return inner.includes("\\") ? (JSON.parse(s.slice(start, end)) as string) : inner;
}

/** The entries of the object at `span` (value spans, in order). */
export function objectEntries(s: string, span: Span): Entry[] {
  const out: Entry[] = [];
  let j = skipWs(s, span.start + 1);
  if (s.charCodeAt(j) === 125) return out;
  for (;;) {
    const keyEnd = skipString(s, j);
    const k = key(s, j, keyEnd);
    const start = skipWs(s, skipWs(s, keyEnd) + 1);
    const end = skipValue(s, start);
    out.push({ key: k, start, end });
    j = skipWs(s, end);
    if (s.charCodeAt(j) === 125) return out;
    j = skipWs(s, j + 1);
  }
}

/** The items of the array at `span`. */
export function arrayItems(s: string, span: Span): Span[] {
  const out: Span[] = [];
  let j = skipWs(s, span.start + 1);
  if (s.charCodeAt(j) === 93) return out;
  for (;;) {
    const end = skipValue(s, j);
    out.push({ start: j, end });
    j = skipWs(s, end);
    if (s.charCodeAt(j) === 93) return out;
    j = skipWs(s, j + 1);
  }
}

/** Resolves paths (keys and indices) to value spans, remembering each container it has listed. */
export class Locator {
  private readonly raw: string;
  private readonly root: Span;
  private readonly entries = new Map<number, Entry[]>();
  private readonly items = new Map<number, Span[]>();

  constructor(raw: string) {
    this.raw = raw;
    const start = skipWs(raw, 0);
    this.root = { start, end: skipValue(raw, start) };
  }

  /** The span of the value at `path`, or null when the body has no such value. */
  span(path: readonly (string | number)[]): Span | null {
    let cur: Span = this.root;
    for (const step of path) {
      const c = this.raw.charCodeAt(cur.start);
      if (typeof step === "number") {
        if (c !== 91) return null;
        const next = this.itemsOf(cur)[step];
        if (!next) return null;
        cur = next;
      } else {
        if (c !== 123) return null;
        const list = this.entriesOf(cur);
        let found: Entry | undefined;
        // JSON.parse keeps the last of duplicate keys; so does the locator.
        for (let e = list.length - 1; e >= 0 && !found; e--) if (list[e]?.key === step) found = list[e];
        if (!found) return null;
        cur = found;
      }
    }
    return cur;
  }

  /** Whether the object at `path` has `key`. */
  has(path: readonly (string | number)[], key: string): boolean {
    const span = this.span(path);
    return (
      span !== null &&
      this.raw.charCodeAt(span.start) === 123 &&
      this.entriesOf(span).some((e) => e.key === key)
    );
  }

  entriesOf(span: Span): Entry[] {
    let list = this.entries.get(span.start);
    if (!list) {
      list = objectEntries(this.raw, span);
      this.entries.set(span.start, list);
    }
    return list;
  }

  private itemsOf(span: Span): Span[] {
    let list = this.items.get(span.start);
    if (!list) {
      list = arrayItems(this.raw, span);
      this.items.set(span.start, list);
    }
    return list;
  }
}

type Step = string | number;

/** One step of the paths `locate` looks for; `span`, `entries` and `items` are filled in by the scan. */
interface Target {
  children: Map<Step, Target>;
  /** List the entries of the object found here (for markers and top-level fields). */
  wantsEntries: boolean;
  /** Walk the items of the array found here (the one a split text is cut in: it is not read whole). */
  wantsItems: boolean;
  span: Span | null;
  entries: Entry[] | null;
  /** The items of the array found here, when the scan walked it. */
  items: Span[] | null;
}

const target = (): Target => ({
  children: new Map(),
  wantsEntries: false,
  wantsItems: false,
  span: null,
  entries: null,
  items: null,
});

function forget(t: Target): void {
  t.span = null;
  t.entries = null;
  t.items = null;
  for (const c of t.children.values()) forget(c);
}

/**
 * An earlier scan of a text this one repeats through `upTo` (the same characters): what it found there
 * holds here, so the scan skips it (a conversation's later turn scans only what its last turn did not have).
 */
export interface ScanHint {
  readonly prev: PathSpans;
  readonly upTo: number;
  /**
   * The text in two parts, when it was made of two (edge/body-memo.ts: the last turn's text through an item's
   * end, then what is new): read from them, the joined text is never flattened, a copy of the whole body.
   */
  readonly parts?: { readonly head: string; readonly tail: string; readonly within: readonly Step[] };
}

/** `raw` as the hint's parts when they make it (its length), else whole. */
export function textOf(raw: string, hint?: ScanHint): TextView {
  const parts = hint?.parts;
  return parts && parts.head.length >= hint.upTo && hint.upTo + parts.tail.length === raw.length
    ? new TextView(parts.head, hint.upTo, parts.tail)
    : TextView.whole(raw);
}

/** Thrown when a value read from the head would run past the cut: the parts do not make the text they claim. */
class Crossing extends Error {}

/**
 * A text read as `head`'s characters before `cut`, then `tail` (a later turn's body: its last turn's text,
 * which it repeats through `cut`, and what is new). A whole text is its own head. Only the two containers
 * that hold the cut (the root and the array whose item ends there) span it; any other value is read in one
 * part.
 */
export class TextView {
  readonly head: string;
  readonly cut: number;
  readonly tail: string;
  readonly length: number;

  constructor(head: string, cut: number, tail: string) {
    this.head = head;
    this.cut = cut;
    this.tail = tail;
    this.length = cut + tail.length;
  }

  static whole(raw: string): TextView {
    return new TextView(raw, raw.length, "");
  }

  code(i: number): number {
    return i < this.cut ? this.head.charCodeAt(i) : this.tail.charCodeAt(i - this.cut);
  }

  ws(i: number): number {
    if (i < this.cut) {
      const j = skipWs(this.head, i);
      if (j < this.cut) return j;
      i = this.cut;
    }
    return skipWs(this.tail, i - this.cut) + this.cut;
  }

  /** Past the string at `i`. */
  string(i: number): number {
    if (i >= this.cut) return skipString(this.tail, i - this.cut) + this.cut;
    return this.before(skipString(this.head, i));
  }

  /** Past the value at `i`, which must not hold the cut. */
  value(i: number): number {
    if (i >= this.cut) return skipValue(this.tail, i - this.cut) + this.cut;
    return this.before(skipValue(this.head, i));
  }

  slice(start: number, end: number): string {
    if (end <= this.cut) return this.head.slice(start, end);
    if (start >= this.cut) return this.tail.slice(start - this.cut, end - this.cut);
    return this.head.slice(start, this.cut) + this.tail.slice(0, end - this.cut);
  }

  key(start: number, end: number): string {
    return start < this.cut ? key(this.head, start, end) : key(this.tail, start - this.cut, end - this.cut);
  }

  /** A value read in the head ends before the cut, or the parts are not what they claim. */
  private before(end: number): number {
    if (end > this.cut) throw new Crossing("a value runs past the cut");
    return end;
  }
}

/** What a scan holds once its text is handed over. */
const NO_TEXT = new TextView("", 0, "");

/** Whether everything `t` looks for under it was found by the earlier scan's `p`. */
function covered(t: Target, p: Target): boolean {
  if ((t.wantsEntries && !p.wantsEntries) || (t.wantsItems && !p.wantsItems)) return false;
  for (const [step, c] of t.children) {
    const pc = p.children.get(step);
    if (!pc || !covered(c, pc)) return false;
  }
  return true;
}

function prune(t: Target): void {
  if (t.items) t.children.clear();
  else for (const c of t.children.values()) prune(c);
}

function copyFrom(t: Target, p: Target): void {
  t.span = p.span;
  t.entries = p.entries;
  t.items = p.items;
  for (const [step, c] of t.children) copyFrom(c, p.children.get(step) as Target);
}

/**
 * The spans of several paths in one pass over the body: containers on a path are walked, every other value
 * is skipped, so each character is crossed once (the Locator above lists a container again for each level
 * it descends). Resolves like `Locator.span`: the last of duplicate keys wins, a step of the wrong kind
 * (an index into an object, a key into an array) finds nothing.
 */
export class PathSpans {
  private readonly root = target();
  private text: TextView;
  private readonly upTo: number;

  /**
   * @param raw JSON text that JSON.parse accepted (the scan trusts its structure).
   * @param paths the paths to find; `withEntries` also lists the entries of the objects at those paths.
   * @param hint an earlier scan of a text `raw` repeats through `hint.upTo`.
   * @param withItems paths of arrays whose items are listed (`items`) even when no path leads into them.
   */
  constructor(
    raw: string,
    paths: readonly (readonly Step[])[],
    withEntries: readonly (readonly Step[])[],
    hint?: ScanHint,
    withItems: readonly (readonly Step[])[] = [],
  ) {
    this.upTo = hint ? Math.min(hint.upTo, raw.length) : -1;
    for (const p of paths) this.node(p, true);
    for (const p of withEntries) (this.node(p, true) as Target).wantsEntries = true;
    for (const p of withItems) (this.node(p, true) as Target).wantsItems = true;
    this.root.wantsEntries = true;
    this.text = textOf(raw, hint);
    const within = hint?.parts?.within;
    if (within && this.text.tail.length > 0) (this.node(within, true) as Target).wantsItems = true;
    try {
      this.visit(this.text.ws(0), this.root, hint?.prev.root);
    } catch (err) {
      if (!(err instanceof Crossing)) throw err;
      // Not the parts they claimed to be: the whole text, read as one.
      forget(this.root);
      this.text = TextView.whole(raw);
      this.visit(this.text.ws(0), this.root, hint?.prev.root);
    }
  }

  /**
   * The text as this scan read it (in parts, never joined, for a later turn's body), handed over once: the
   * scan then holds no text, as it is kept for the next turn's hint and must not keep this turn's text (nor
   * the last turn's, a part of it) alive with it.
   */
  takeView(): TextView {
    const text = this.text;
    this.text = NO_TEXT;
    return text;
  }

  /**
   * Forgets what was found inside the arrays the scan listed, keeping their items (and the root's entries):
   * kept as the next turn's hint, that is what the next scan skips by, while a target for each path this
   * turn's render looked for (one per edit: a map per step) would be held as long as the body is, and the
   * next render keeps those edits' ops instead of looking for them (apply.ts `keptOps`).
   */
  pruned(): this {
    prune(this.root);
    return this;
  }

  /** The span of the value at `path` (one of the constructor's paths), or null when the body has none. */
  span(path: readonly Step[]): Span | null {
    return this.node(path, false)?.span ?? null;
  }

  /** The entries of the object at `path` (a `withEntries` path, or the root), or null when it is no object. */
  entries(path: readonly Step[]): Entry[] | null {
    return this.node(path, false)?.entries ?? null;
  }

  /** The items of the array at `path`, when the scan walked it (it looked for a path into it, or was asked to list them), else null. */
  items(path: readonly Step[]): Span[] | null {
    return this.node(path, false)?.items ?? null;
  }

  private node(path: readonly Step[], create: boolean): Target | undefined {
    let cur = this.root;
    for (const step of path) {
      let next = cur.children.get(step);
      if (!next) {
        if (!create) return undefined;
        next = target();
        cur.children.set(step, next);
      }
      cur = next;
    }
    return cur;
  }

  /** Scans the value at `start` for target `t` (`p`: the earlier scan's at the same path); returns the index just after it. */
  private visit(start: number, t: Target, p: Target | undefined): number {
    const s = this.text;
    // A duplicate key is visited again: what its earlier occurrence held must not survive.
    if (t.span) forget(t);
    // Within the repeated text, what the earlier scan found under this value holds as it was.
    if (p?.span && p.span.start === start && p.span.end <= this.upTo && covered(t, p)) {
      copyFrom(t, p);
      return p.span.end;
    }
    const c = s.code(start);
    let end: number;
    if (c === 123 && (t.children.size > 0 || t.wantsEntries)) end = this.object(start, t, p);
    else if (c === 91 && (t.children.size > 0 || t.wantsItems)) end = this.array(start, t, p);
    else end = s.value(start);
    t.span = { start, end };
    return end;
  }

  /** Where a value that is no target ends: as the earlier scan found it within the repeated text, else scanned. */
  private skip(start: number, known: readonly Span[] | null | undefined, at?: number): number {
    const k = known && at !== undefined ? known[at] : known?.find((x) => x.start === start);
    return k && k.start === start && k.end <= this.upTo ? k.end : this.text.value(start);
  }

  private object(start: number, t: Target, p: Target | undefined): number {
    const s = this.text;
    const entries: Entry[] | null = t.wantsEntries ? [] : null;
    let j = s.ws(start + 1);
    if (s.code(j) !== 125) {
      for (;;) {
        const keyEnd = s.string(j);
        const k = s.key(j, keyEnd);
        const valueStart = s.ws(s.ws(keyEnd) + 1);
        const child = t.children.get(k);
        const end = child
          ? this.visit(valueStart, child, p?.children.get(k))
          : this.skip(valueStart, p?.entries);
        entries?.push({ key: k, start: valueStart, end });
        j = s.ws(end);
        if (s.code(j) === 125) break;
        if (s.code(j) !== 44) throw new SyntaxError(`unexpected character at ${j} in body`);
        j = s.ws(j + 1);
      }
    }
    t.entries = entries;
    return j + 1;
  }

  private array(start: number, t: Target, p: Target | undefined): number {
    const s = this.text;
    const items: Span[] = [];
    t.items = items;
    let j = s.ws(start + 1);
    if (s.code(j) === 93) return j + 1;
    for (let index = 0; ; index++) {
      const child = t.children.get(index);
      const end = child ? this.visit(j, child, p?.children.get(index)) : this.skip(j, p?.items, index);
      items.push({ start: j, end });
      j = s.ws(end);
      if (s.code(j) === 93) return j + 1;
      if (s.code(j) !== 44) throw new SyntaxError(`unexpected character at ${j} in body`);
      j = s.ws(j + 1);
    }
  }
}

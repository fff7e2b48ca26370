/** How a relayed JSON answer ended: all of it read, or the upstream broke mid-body. */
export type JsonEnd = "complete" | "upstream_error";

export interface JsonRelayOptions {
  /** Stoker asked for cache diagnostics on the client's behalf: the client gets `diagnostics: null`. */
  hideDiagnostics: boolean;
  /** Top-level values the client gets rewritten (each by a function of its JSON text), as they flow. */
  replaceTopLevel?: Record<string, (value: string) => string> | undefined;
  /**
   * Called once, after the last byte (or the break), with the whole answer as text when it was read to the
   * end. Runs on the side: the client's copy never waits for it.
   */
  onEnd: (end: JsonEnd, text: string | null) => void;
  /** Keeps the side read alive once the client has its copy (the execution context's waitUntil). */
  waitUntil: (p: Promise<unknown>) => void;
}

/**
 * A non-streaming answer passed on as it arrives: the client's copy starts flowing with the upstream's first
 * byte (no buffering for a header), while a second copy (tee) is read on the side for usage and accounting.
 * A break mid-body reaches the client as a broken body: its status went out with the first byte.
 */
export function relayJson(
  body: ReadableStream<Uint8Array>,
  opts: JsonRelayOptions,
): ReadableStream<Uint8Array> {
  const [client, side] = body.tee();
  opts.waitUntil(readSide(side, opts.onEnd));
  const replace: Record<string, (value: string) => string> = { ...opts.replaceTopLevel };
  if (opts.hideDiagnostics) replace.diagnostics = () => "null";
  return Object.keys(replace).length > 0
    ? client.pipeThrough(rewriting(new TopLevelRewriter(replace)))
    : client;
}

async function readSide(side: ReadableStream<Uint8Array>, onEnd: JsonRelayOptions["onEnd"]): Promise<void> {
  const reader = side.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.byteLength;
    }
  } catch {
    onEnd("upstream_error", null);
    return;
  }
  const all = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  onEnd("complete", new TextDecoder().decode(all));
}

/**
 * A streaming edit of a JSON object: the values of some of its top-level keys are replaced (each by a function
 * of its JSON text), every other byte passes as it came. One pass over the text, state kept across chunks;
 * once every key is replaced the rest passes without scanning.
 */
export class TopLevelRewriter {
  readonly #replace: Record<string, (value: string) => string>;
  readonly #remaining: Set<string>;
  #depth = 0;
  #inString = false;
  #escaped = false;
  /** At depth 1, the string being read is in key position; its text so far (short keys only). */
  #key: string | null = null;
  #keyPosition = false;
  #lastKey: string | null = null;
  #afterColon = false;
  /** Reading a replaced value: the depth it opened at (0 for a scalar, -1 when not reading one). */
  #skipDepth = -1;
  #skipString = false;
  #skipEscaped = false;
  /** The replaced value's text so far, and its key. */
  #captured = "";
  #capturing = "";

  constructor(replace: Record<string, (value: string) => string>) {
    this.#replace = replace;
    this.#remaining = new Set(Object.keys(replace));
  }

  push(text: string): string {
    if (this.#remaining.size === 0) return text;
    let out = "";
    let from = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i] as string;
      if (this.#skipDepth >= 0) {
        const end = this.#skip(ch);
        if (end === "more") {
          this.#captured += ch;
          continue;
        }
        // A scalar ends before its delimiter (`,` or `}` belongs to the object), a string or container after.
        if (end === "after") this.#captured += ch;
        this.#skipDepth = -1;
        out += (this.#replace[this.#capturing] as (v: string) => string)(this.#captured);
        this.#remaining.delete(this.#capturing);
        from = end === "before" ? i : i + 1;
        if (this.#remaining.size === 0) return out + text.slice(from);
        if (end === "after") continue;
      }
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (ch === "\\") this.#escaped = true;
        else if (ch === '"') {
          this.#inString = false;
          if (this.#key !== null) {
            this.#lastKey = this.#key;
            this.#key = null;
          }
        } else if (this.#key !== null) this.#key = this.#key.length < 32 ? this.#key + ch : "";
        continue;
      }
      if (this.#depth === 1 && this.#afterColon && ch.trim() !== "") {
        this.#afterColon = false;
        if (this.#lastKey !== null && this.#remaining.has(this.#lastKey)) {
          out += text.slice(from, i);
          this.#capturing = this.#lastKey;
          this.#captured = ch;
          this.#startSkip(ch);
          from = i + 1;
          continue;
        }
      }
      switch (ch) {
        case '"':
          this.#inString = true;
          this.#key = this.#depth === 1 && this.#keyPosition ? "" : null;
          this.#keyPosition = false;
          break;
        case "{":
        case "[":
          this.#depth++;
          this.#keyPosition = this.#depth === 1 && ch === "{";
          break;
        case "}":
        case "]":
          this.#depth--;
          break;
        case ",":
          this.#keyPosition = this.#depth === 1;
          break;
        case ":":
          if (this.#depth === 1) this.#afterColon = true;
          break;
      }
    }
    if (this.#skipDepth >= 0) return out;
    return out + text.slice(from);
  }

  /** The replaced value starts with `ch`: a string or a container is read to its end, a scalar to the next delimiter. */
  #startSkip(ch: string): void {
    this.#skipString = ch === '"';
    this.#skipDepth = ch === "{" || ch === "[" ? 1 : 0;
  }

  /**
   * Consumes one character of the replaced value: "more" while inside it, "after" when `ch` closed it (a
   * string's quote, a container's bracket), "before" when `ch` is the delimiter after a scalar.
   */
  #skip(ch: string): "more" | "after" | "before" {
    if (this.#skipString) {
      if (this.#skipEscaped) this.#skipEscaped = false;
      else if (ch === "\\") this.#skipEscaped = true;
      else if (ch === '"') {
        this.#skipString = false;
        if (this.#skipDepth === 0) return "after";
      }
      return "more";
    }
    if (this.#skipDepth === 0) return ch === "," || ch === "}" || ch.trim() === "" ? "before" : "more";
    if (ch === '"') this.#skipString = true;
    else if (ch === "{" || ch === "[") this.#skipDepth++;
    else if ((ch === "}" || ch === "]") && --this.#skipDepth === 0) return "after";
    return "more";
  }
}

/**
 * The top-level `diagnostics` value becomes `null` (what the API answers when a request carries none), every
 * other byte as it came.
 */
export class DiagnosticsNuller extends TopLevelRewriter {
  constructor() {
    super({ diagnostics: () => "null" });
  }
}

/** The stream form of a TopLevelRewriter, for a JSON answer's bytes. */
function rewriting(rewriter: TopLevelRewriter): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  return new TransformStream({
    transform(chunk, controller) {
      const out = rewriter.push(decoder.decode(chunk, { stream: true }));
      if (out.length > 0) controller.enqueue(encoder.encode(out));
    },
    flush(controller) {
      const out = rewriter.push(decoder.decode());
      if (out.length > 0) controller.enqueue(encoder.encode(out));
    },
  });
}

import { fedStream } from "./fed-stream.ts";

/** How a relayed JSON answer ended: all of it read, or the upstream broke mid-body. */
export type JsonEnd = "complete" | "upstream_error";

export interface JsonRelayOptions {
  /** Stoker asked for cache diagnostics on the client's behalf: the client gets `diagnostics: null`. */
  hideDiagnostics: boolean;
  /** Top-level values the client gets rewritten (each by a function of its JSON text), as they flow. */
  replaceTopLevel?: Record<string, (value: string) => string> | undefined;
  /**
   * Called once, with the whole answer as text when it was read to the end: after the last byte was passed on
   * (or at the break), or, for an answer whole in the upstream's first chunk, just before it is handed over.
   * The client's copy never waits for the upstream's end on its account.
   */
  onEnd: (end: JsonEnd, text: string | null) => void;
  /** Keeps a read alive once the client has its copy or has left (the execution context's waitUntil). */
  waitUntil: (p: Promise<unknown>) => void;
  /** The client's request signal: aborted when the client leaves (fed-stream.ts). */
  leaves?: AbortSignal | undefined;
}

/** What a relayed JSON answer's client gets: all of it at once, or a stream that flows as the upstream's does. */
export type RelayedJson = string | Uint8Array | ReadableStream<Uint8Array>;

/** A chunk read from the upstream and not yet passed on, with its text. */
interface Chunk {
  bytes: Uint8Array;
  text: string;
}

/**
 * A non-streaming answer passed on as it arrives, while the whole text is kept for usage and accounting.
 * Resolves once the upstream's first chunk is in: an answer whole in it (the usual case: providers send a
 * JSON answer at once) goes to the client as it is, with no stream of Stoker's own between (a JS stream and
 * its pulls cost the runtime more than the answer's bytes); otherwise the client's copy starts with that
 * chunk and flows as the rest arrives (no buffering for a header). A break mid-body reaches the client as a
 * broken body (its status went out with the first byte); null when the upstream broke before its first byte
 * (`onEnd` is not called: the caller answers with an error of its own).
 */
export async function relayJson(
  body: ReadableStream<Uint8Array>,
  opts: JsonRelayOptions,
): Promise<RelayedJson | null> {
  const replace: Record<string, (value: string) => string> = { ...opts.replaceTopLevel };
  if (opts.hideDiagnostics) replace.diagnostics = () => "null";
  const rewriter = Object.keys(replace).length > 0 ? new TopLevelRewriter(replace) : null;
  const reader = body.getReader();
  // A reset upstream rejects `closed` too; it is handled where it is read, so keep it from surfacing as unhandled.
  reader.closed.catch(() => {});
  const decoder = new TextDecoder();
  const kept: string[] = [];
  const read = async (): Promise<Chunk | "done" | "broken"> => {
    try {
      const r = await reader.read();
      if (r.done) return "done";
      const text = decoder.decode(r.value, { stream: true });
      kept.push(text);
      return { bytes: r.value, text };
    } catch {
      return "broken";
    }
  };
  const first = await read();
  if (first === "broken") return null;
  const pending: Chunk[] = [];
  let after: "done" | "broken" | null = first === "done" ? "done" : null;
  if (first !== "done") {
    pending.push(first);
    // Only a chunk that ends an object can be the whole answer; one more read tells (the end follows at once).
    if (endsAnObject(first.text)) {
      const next = await read();
      if (typeof next === "string") after = next;
      else pending.push(next);
    }
  }
  if (after === "done") {
    kept.push(decoder.decode());
    const whole = kept.join("");
    opts.onEnd("complete", whole);
    if (rewriter) return rewriter.push(whole);
    return pending.length === 1 ? (pending[0] as Chunk).bytes : whole;
  }
  return flowing(reader, decoder, kept, pending, after === "broken", rewriter, opts);
}

/** The text's last character other than JSON whitespace closes an object. */
function endsAnObject(text: string): boolean {
  for (let i = text.length - 1; i >= 0; i--) {
    const ch = text.charCodeAt(i);
    if (ch === 0x20 || ch === 0x0a || ch === 0x0d || ch === 0x09) continue;
    return ch === 0x7d;
  }
  return false;
}

/**
 * The client's copy as it arrives: the chunks already read, then the upstream's, each edited on the way by
 * `rewriter` (none: the bytes as they came), in the one pass that also keeps the text for `onEnd`. One
 * upstream chunk is read after the client took the last (fed-stream.ts), so a slow client holds the upstream
 * back instead of a buffer growing. A client that leaves early does not stop the accounting: the rest is read
 * off its path, and `onEnd` hears the whole answer as it would have.
 */
function flowing(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  decoder: TextDecoder,
  kept: string[],
  pending: Chunk[],
  brokenAfter: boolean,
  rewriter: TopLevelRewriter | null,
  opts: JsonRelayOptions,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let ended = false;
  const end = (how: JsonEnd) => {
    if (ended) return;
    ended = true;
    opts.onEnd(how, how === "complete" ? kept.join("") : null);
  };
  /** The chunk as the client gets it; empty while it is wholly inside a replaced value. */
  const edited = (c: Chunk): Uint8Array | null => {
    if (!rewriter) return c.bytes;
    const out = rewriter.push(c.text);
    return out.length > 0 ? encoder.encode(out) : null;
  };
  let gone = false;
  return fedStream(
    (out) => {
      // Once the client has left, its copy is no longer written, but the answer is still read to its end.
      const send = async (bytes: Uint8Array | null) => {
        if (bytes && !gone)
          await out.write(bytes).catch(() => {
            gone = true;
          });
      };
      const read = async () => {
        for (const held of pending) await send(edited(held));
        pending.length = 0;
        if (brokenAfter) {
          end("upstream_error");
          if (!gone) await out.error(new Error("The upstream's answer broke.")).catch(() => {});
          return;
        }
        for (;;) {
          let chunk: ReadableStreamReadResult<Uint8Array>;
          try {
            chunk = await reader.read();
          } catch (err) {
            end("upstream_error");
            if (!gone) await out.error(err).catch(() => {});
            return;
          }
          if (chunk.done) {
            const text = decoder.decode();
            kept.push(text);
            const rest = rewriter ? rewriter.push(text) : "";
            if (rest.length > 0) await send(encoder.encode(rest));
            end("complete");
            if (!gone) await out.close().catch(() => {});
            return;
          }
          const text = decoder.decode(chunk.value, { stream: true });
          kept.push(text);
          // A chunk wholly inside a replaced value yields nothing yet: read on.
          await send(edited({ bytes: chunk.value, text }));
        }
      };
      // Kept alive past a client that leaves: the accounting hears the whole answer.
      const reading = read();
      opts.waitUntil(reading);
      return reading;
    },
    () => {
      gone = true;
    },
    opts.leaves,
  );
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

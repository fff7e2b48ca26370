/** How a relayed JSON answer ended: all of it read, or the upstream broke mid-body. */
export type JsonEnd = "complete" | "upstream_error";

export interface JsonRelayOptions {
  /** Stoker asked for cache diagnostics on the client's behalf: the client gets `diagnostics: null`. */
  hideDiagnostics: boolean;
  /** Top-level values the client gets rewritten (each by a function of its JSON text), as they flow. */
  replaceTopLevel?: Record<string, (value: string) => string> | undefined;
  /**
   * Called once, after the last byte was passed on (or the break), with the whole answer as text when it was
   * read to the end. The client's copy never waits for the upstream's end on its account.
   */
  onEnd: (end: JsonEnd, text: string | null) => void;
  /** Keeps a read alive once the client has its copy or has left (the execution context's waitUntil). */
  waitUntil: (p: Promise<unknown>) => void;
}

/**
 * A non-streaming answer passed on as it arrives: the client's copy starts flowing with the upstream's first
 * byte (no buffering for a header), while the whole text is kept for usage and accounting. A break mid-body
 * reaches the client as a broken body: its status went out with the first byte.
 */
export function relayJson(
  body: ReadableStream<Uint8Array>,
  opts: JsonRelayOptions,
): ReadableStream<Uint8Array> {
  const replace: Record<string, (value: string) => string> = { ...opts.replaceTopLevel };
  if (opts.hideDiagnostics) replace.diagnostics = () => "null";
  if (Object.keys(replace).length > 0) return rewrittenAndKept(body, new TopLevelRewriter(replace), opts);
  // Nothing to edit: the client's copy is the runtime's own (tee), and a second copy is read on the side.
  const [client, side] = body.tee();
  opts.waitUntil(readSide(side, opts.onEnd));
  return client;
}

async function readSide(side: ReadableStream<Uint8Array>, onEnd: JsonRelayOptions["onEnd"]): Promise<void> {
  const kept: string[] = [];
  const ended = await readRest(side.getReader(), new TextDecoder(), kept);
  onEnd(ended, ended === "complete" ? kept.join("") : null);
}

/** Reads `reader` to its end, its text added to `kept` (`decoder` goes on from what it decoded before). */
async function readRest(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  decoder: TextDecoder,
  kept: string[],
): Promise<JsonEnd> {
  try {
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      kept.push(decoder.decode(chunk.value, { stream: true }));
    }
  } catch {
    return "upstream_error";
  }
  kept.push(decoder.decode());
  return "complete";
}

/**
 * The client's copy edited on the way, in the one pass that also keeps the text for `onEnd`: one reader of
 * the upstream, no second copy. Each client read pulls one upstream chunk (highWaterMark 0), so a slow client
 * holds the upstream back instead of a buffer growing. A client that leaves early does not stop the
 * accounting: the rest is read off its path, and `onEnd` hears the whole answer as it would have.
 */
function rewrittenAndKept(
  body: ReadableStream<Uint8Array>,
  rewriter: TopLevelRewriter,
  opts: JsonRelayOptions,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  // A reset upstream rejects `closed` too; it is handled where it is read, so keep it from surfacing as unhandled.
  reader.closed.catch(() => {});
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const kept: string[] = [];
  let ended = false;
  const end = (how: JsonEnd) => {
    if (ended) return;
    ended = true;
    opts.onEnd(how, how === "complete" ? kept.join("") : null);
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          let chunk: ReadableStreamReadResult<Uint8Array>;
          try {
            chunk = await reader.read();
          } catch (err) {
            controller.error(err);
            end("upstream_error");
            return;
          }
          const text = chunk.done ? decoder.decode() : decoder.decode(chunk.value, { stream: true });
          kept.push(text);
          const out = rewriter.push(text);
          if (chunk.done) {
            if (out.length > 0) controller.enqueue(encoder.encode(out));
            controller.close();
            end("complete");
            return;
          }
          // A chunk wholly inside a replaced value yields nothing yet: read on rather than answer the pull empty.
          if (out.length > 0) {
            controller.enqueue(encoder.encode(out));
            return;
          }
        }
      },
      cancel() {
        opts.waitUntil(readRest(reader, decoder, kept).then(end));
      },
    },
    { highWaterMark: 0 },
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

/** How a relayed JSON answer ended: all of it read, or the upstream broke mid-body. */
export type JsonEnd = "complete" | "upstream_error";

export interface JsonRelayOptions {
  /** Stoker asked for cache diagnostics on the client's behalf: the client gets `diagnostics: null`. */
  hideDiagnostics: boolean;
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
  return opts.hideDiagnostics ? client.pipeThrough(nullDiagnostics()) : client;
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
 * A streaming edit of a JSON object: the value of its top-level `diagnostics` key becomes `null`, every other
 * byte passes as it came (what the API answers when a request carries no `diagnostics`). One pass over the
 * text, state kept across chunks; after the value is replaced the rest passes without scanning.
 */
export class DiagnosticsNuller {
  #depth = 0;
  #inString = false;
  #escaped = false;
  /** At depth 1, the string being read is in key position; its text so far (short keys only). */
  #key: string | null = null;
  #keyPosition = false;
  #lastKey: string | null = null;
  #afterColon = false;
  /** Skipping the diagnostics value: the depth it opened at (0 for a scalar, -1 when not skipping). */
  #skipDepth = -1;
  #skipString = false;
  #skipEscaped = false;
  #done = false;

  push(text: string): string {
    if (this.#done) return text;
    let out = "";
    let from = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i] as string;
      if (this.#skipDepth >= 0) {
        const end = this.#skip(ch);
        if (end === "more") continue;
        // A scalar ends before its delimiter (`,` or `}` belongs to the object), a string or container after.
        this.#skipDepth = -1;
        this.#done = true;
        return out + text.slice(end === "before" ? i : i + 1);
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
        if (this.#lastKey === "diagnostics") {
          out += `${text.slice(from, i)}null`;
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

  /** The diagnostics value starts with `ch`: a string or a container is skipped to its end, a scalar to the next delimiter. */
  #startSkip(ch: string): void {
    this.#skipString = ch === '"';
    this.#skipDepth = ch === "{" || ch === "[" ? 1 : 0;
  }

  /**
   * Consumes one character of the skipped value: "more" while inside it, "after" when `ch` closed it (a
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

/** The stream form of DiagnosticsNuller, for a JSON answer's bytes. */
function nullDiagnostics(): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const nuller = new DiagnosticsNuller();
  return new TransformStream({
    transform(chunk, controller) {
      const out = nuller.push(decoder.decode(chunk, { stream: true }));
      if (out.length > 0) controller.enqueue(encoder.encode(out));
    },
    flush(controller) {
      const out = nuller.push(decoder.decode());
      if (out.length > 0) controller.enqueue(encoder.encode(out));
    },
  });
}

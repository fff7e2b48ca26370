/** Where a relay writes the client's copy of an answer. */
export interface Feed {
  /** Resolves once the client has taken the chunk (no buffer between); rejects when the client left. */
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
  /** Breaks the client's copy, as the upstream's broke. */
  error(reason: unknown): Promise<void>;
}

/**
 * A response body the runtime sends natively, fed chunk by chunk by `feed`: workerd pumps an
 * IdentityTransformStream to the client without entering JavaScript for each read, where a JS
 * `ReadableStream` answers every read through `pull` (bench/report/ab-fed-stream.md: 3.1-4.1 ms less
 * process CPU per 100K-token stream answer). Each write waits until the client has taken the one before,
 * so a slow client holds the upstream back instead of a buffer growing. `stopped` is called once, with the
 * reason, when the client leaves or `feed` throws, and the client's copy is broken off. A native stream does
 * not tell its writer that its reader left until the next write fails, so `leaves` (the client's request
 * signal, `enable_request_signal`) tells it at once: the runtime may end the request's work when the client
 * disconnects, before an upstream that pauses sends its next chunk.
 */
export function fedStream(
  feed: (out: Feed) => Promise<void>,
  stopped: (reason: unknown) => void,
  leaves?: AbortSignal,
): ReadableStream<Uint8Array> {
  const { readable, writable } = new IdentityTransformStream();
  const writer = writable.getWriter();
  // Set once the feed closes or breaks the copy itself: what ends the stream then is not the client leaving.
  let over = false;
  const settle = () => {
    over = true;
    leaves?.removeEventListener("abort", onLeave);
  };
  const stop = (reason: unknown) => {
    if (over) return;
    settle();
    stopped(reason);
    writer.abort(reason).catch(() => {});
  };
  const onLeave = () => stop(leaves?.reason);
  const out: Feed = {
    // An empty write would end nothing and tell the client nothing: skipped.
    write: (chunk) => (chunk.byteLength === 0 ? Promise.resolve() : writer.write(chunk)),
    close: () => {
      settle();
      return writer.close();
    },
    error: (reason) => {
      settle();
      return writer.abort(reason);
    },
  };
  if (leaves?.aborted) queueMicrotask(onLeave);
  else leaves?.addEventListener("abort", onLeave, { once: true });
  feed(out).catch(stop);
  return readable;
}

/** What the client gets for one upstream chunk: bytes, nothing yet (null), or its last bytes (then the pipe stops). */
export type Step = Uint8Array | null | { last: Uint8Array | null };

/** How a pipe turns an upstream body into the client's copy (`pipeChunks`). */
export interface Piping {
  chunk(bytes: Uint8Array): Step;
  /** The upstream ended (`"done"`) or its read failed (`"broken"`): the last bytes the client gets, if any. */
  finish(how: "done" | "broken"): Uint8Array | null;
  /** The client left, or `chunk` threw (told once); the upstream is cancelled after. */
  left(): void;
}

/**
 * Relays `body` chunk by chunk through `piping` into a fed stream (never buffered): the shape of every
 * streamed answer's relay, whatever it reads on the side.
 */
export function pipeChunks(
  body: ReadableStream<Uint8Array>,
  piping: Piping,
  leaves?: AbortSignal,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  // A reset upstream rejects `closed` too; it is handled where it is read, so keep it from surfacing as unhandled.
  reader.closed.catch(() => {});
  const closeWith = async (out: Feed, last: Uint8Array | null) => {
    if (last) await out.write(last);
    await out.close();
  };
  return fedStream(
    async (out) => {
      for (;;) {
        let read: ReadableStreamReadResult<Uint8Array>;
        try {
          read = await reader.read();
        } catch {
          return closeWith(out, piping.finish("broken"));
        }
        if (read.done) return closeWith(out, piping.finish("done"));
        const step = piping.chunk(read.value);
        if (step instanceof Uint8Array) await out.write(step);
        else if (step !== null) {
          await reader.cancel().catch(() => {});
          return closeWith(out, step.last);
        }
      }
    },
    (reason) => {
      piping.left();
      reader.cancel(reason).catch(() => {});
    },
    leaves,
  );
}

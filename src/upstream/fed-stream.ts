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
 * `ReadableStream` answers every read through `pull` (bench/report/ab-fed-stream.md: 1-2 ms and 3.5 ms of
 * CPU per 100K-token stream answer). Each write waits until the client has taken the one before, so a slow
 * client holds the upstream back instead of a buffer growing. When a write fails (the client left) or `feed`
 * throws, `stopped` is called once with the reason and the client's copy is broken off.
 */
export function fedStream(
  feed: (out: Feed) => Promise<void>,
  stopped: (reason: unknown) => void,
): ReadableStream<Uint8Array> {
  const { readable, writable } = new IdentityTransformStream();
  const writer = writable.getWriter();
  const out: Feed = {
    // An empty write would end nothing and tell the client nothing: skipped.
    write: (chunk) => (chunk.byteLength === 0 ? Promise.resolve() : writer.write(chunk)),
    close: () => writer.close(),
    error: (reason) => writer.abort(reason),
  };
  feed(out).catch((reason: unknown) => {
    stopped(reason);
    writer.abort(reason).catch(() => {});
  });
  return readable;
}

import { EventStreamCodec } from "@smithy/core/event-streams";
import { pipeChunks } from "./fed-stream.ts";
import type { StreamEnd } from "./sse.ts";

type Message = ReturnType<EventStreamCodec["decode"]>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The AWS event-stream codec (prelude and message CRCs, typed headers) of the AWS SDK's own stack. */
export function eventStreamCodec(): EventStreamCodec {
  return new EventStreamCodec(
    (bytes) => decoder.decode(bytes),
    (text) => encoder.encode(text),
  );
}

/** One decoded event-stream message: its `:message-type`, `:event-type` (or `:exception-type`) and payload. */
export interface StreamMessage {
  messageType: string;
  type: string;
  payload: Uint8Array;
}

function header(m: Message, name: string): string {
  const h = m.headers[name];
  return h && h.type === "string" ? h.value : "";
}

/** Reads a decoded message's routing headers. */
export function streamMessage(m: Message): StreamMessage {
  const messageType = header(m, ":message-type");
  const type = messageType === "event" ? header(m, ":event-type") : header(m, ":exception-type");
  return { messageType, type, payload: m.body };
}

/** Encodes an event (`:message-type: event`) with a JSON payload. */
export function encodeEvent(codec: EventStreamCodec, type: string, payload: unknown): Uint8Array {
  return codec.encode({
    headers: {
      ":event-type": { type: "string", value: type },
      ":content-type": { type: "string", value: "application/json" },
      ":message-type": { type: "string", value: "event" },
    },
    body: encoder.encode(JSON.stringify(payload)),
  });
}

/** Encodes an exception (`:message-type: exception`), as AWS services end a stream that failed. */
export function encodeException(codec: EventStreamCodec, type: string, message: string): Uint8Array {
  return codec.encode({
    headers: {
      ":exception-type": { type: "string", value: type },
      ":content-type": { type: "string", value: "application/json" },
      ":message-type": { type: "string", value: "exception" },
    },
    body: encoder.encode(JSON.stringify({ message })),
  });
}

/** Reads an event stream's messages as they pass: usage, and whether the stream ended properly. */
export interface EventStreamWatcher {
  onMessage(message: StreamMessage): void;
  finished: boolean;
}

export interface EventStreamPipeOptions {
  watcher: EventStreamWatcher;
  /** The exception message sent to the client when the upstream stream breaks or ends early. */
  errorFrame: (reason: "truncated" | "upstream_error") => Uint8Array;
  /** Called exactly once when the stream ends, however it ends. */
  onEnd: (end: StreamEnd, firstByteAt: number | null) => void;
  /** The client's request signal: aborted when the client leaves (fed-stream.ts). */
  leaves?: AbortSignal | undefined;
}

/**
 * Forwards an AWS event stream message by message (one upstream read after the client took the last,
 * fed-stream.ts): each complete message is decoded on the side (the codec checks its CRCs) and its bytes
 * passed on unchanged. Only whole messages are passed, so a break can always be told to the client as an
 * exception message, which the AWS SDK raises as the named error. Holds at most one partial message.
 */
export function pipeEventStream(
  body: ReadableStream<Uint8Array>,
  opts: EventStreamPipeOptions,
): ReadableStream<Uint8Array> {
  const codec = eventStreamCodec();
  let held = new Uint8Array(0);
  let ended = false;
  let firstByteAt: number | null = null;
  const end = (how: StreamEnd) => {
    if (ended) return;
    ended = true;
    opts.onEnd(how, firstByteAt);
  };
  /** The complete messages at the front of `held`, decoded and removed from it; null when one is corrupt. */
  const takeMessages = (): Uint8Array | null => {
    let at = 0;
    while (held.byteLength - at >= 4) {
      const length = new DataView(held.buffer, held.byteOffset + at, 4).getUint32(0, false);
      if (length < 16) return null;
      if (held.byteLength - at < length) break;
      const frame = held.subarray(at, at + length);
      try {
        opts.watcher.onMessage(streamMessage(codec.decode(frame)));
      } catch {
        return null;
      }
      at += length;
    }
    const out = held.slice(0, at);
    held = held.slice(at);
    return out;
  };

  return pipeChunks(
    body,
    {
      chunk(bytes) {
        firstByteAt ??= Date.now();
        const joined = new Uint8Array(held.byteLength + bytes.byteLength);
        joined.set(held, 0);
        joined.set(bytes, held.byteLength);
        held = joined;
        const ready = takeMessages();
        if (ready === null) {
          // Not an event stream Stoker can read: say so in the stream's own terms and stop.
          end("upstream_error");
          return { last: opts.errorFrame("upstream_error") };
        }
        return ready.byteLength > 0 ? ready : null;
      },
      finish(how) {
        if (how === "done" && opts.watcher.finished && held.byteLength === 0) {
          end("complete");
          return null;
        }
        const reason = how === "done" ? "truncated" : "upstream_error";
        end(reason);
        return opts.errorFrame(reason);
      },
      left() {
        end("client_cancelled");
      },
    },
    opts.leaves,
  );
}

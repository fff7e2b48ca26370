import { createParser, type EventSourceMessage } from "eventsource-parser";
import { pipeChunks } from "./fed-stream.ts";

/** Reads one provider's SSE events as they pass: usage, and whether the stream ended properly. */
export interface SseWatcher {
  onEvent(event: EventSourceMessage): void;
  /** True once the provider's terminal event (message_stop, [DONE], response.completed) was seen. */
  finished: boolean;
}

export type StreamEnd = "complete" | "truncated" | "upstream_error" | "client_cancelled";

/** What a rewrite makes of one event: the text to send instead, null (dropped) or undefined (as it came). */
export type Rewritten = string | null | undefined;

const EVENT_END = /\n\n$|\r\n\r\n$|\r\r$/;

export interface PipeOptions {
  watcher: SseWatcher;
  /**
   * When set, each event goes through it: the text to send instead, null to drop it, or undefined to send it
   * as it came. A chunk made of whole events that all stay as they came passes as its own bytes.
   */
  rewrite?: (event: EventSourceMessage) => Rewritten;
  /** The SSE text sent to the client when the upstream stream breaks or ends early. */
  errorEvent: (reason: "truncated" | "upstream_error") => string;
  /** Called exactly once when the stream ends, however it ends. */
  onEnd: (end: StreamEnd, firstByteAt: number | null) => void;
  /** The client's request signal: aborted when the client leaves (fed-stream.ts). */
  leaves?: AbortSignal | undefined;
}

const encoder = new TextEncoder();

/**
 * Forwards an SSE body chunk by chunk (never buffering: one upstream read after the client took the last
 * chunk, fed-stream.ts) while a parser reads the events on the side. A break or early end reaches the client
 * as an error event.
 */
export function pipeSse(body: ReadableStream<Uint8Array>, opts: PipeOptions): ReadableStream<Uint8Array> {
  const decoder = new TextDecoder();
  // The events completed since the last write: each one's text, or the event itself when it stays as it came
  // (formatted only if its chunk cannot pass as its own bytes).
  const pending: (string | EventSourceMessage)[] = [];
  let changed = false;
  // Whether the upstream's bytes so far end at an event boundary (a chunk passes as it came only from one to one).
  let atBoundary = true;
  let partialEvent = false;
  let ended = false;
  let firstByteAt: number | null = null;
  const parser = createParser({
    onEvent(event) {
      opts.watcher.onEvent(event);
      if (opts.rewrite) {
        const out = opts.rewrite(event);
        if (out === undefined) pending.push(event);
        else {
          changed = true;
          if (out !== null) pending.push(out);
        }
      }
    },
  });
  // The pending events as text, and a fresh start for the next chunk.
  const takePending = (): string => {
    const text = pending.map((e) => (typeof e === "string" ? e : formatSse(e))).join("");
    pending.length = 0;
    changed = false;
    return text;
  };
  const end = (how: StreamEnd) => {
    if (ended) return;
    ended = true;
    opts.onEnd(how, firstByteAt);
  };

  const errorEvent = (reason: "truncated" | "upstream_error") =>
    (partialEvent ? "\n\n" : "") + opts.errorEvent(reason);
  return pipeChunks(
    body,
    {
      chunk(bytes) {
        firstByteAt ??= Date.now();
        const text = decoder.decode(bytes, { stream: true });
        parser.feed(text);
        const endsEvent = EVENT_END.test(text);
        if (!opts.rewrite) {
          partialEvent = !endsEvent;
          return bytes;
        }
        const whole = atBoundary && endsEvent;
        atBoundary = endsEvent;
        if (whole && !changed) {
          // Every event in it stays as it came: its own bytes, not a copy built again.
          pending.length = 0;
          return bytes;
        }
        return pending.length > 0 ? encoder.encode(takePending()) : null;
      },
      finish(how) {
        if (how === "broken") {
          end("upstream_error");
          return encoder.encode(errorEvent("upstream_error"));
        }
        parser.feed(decoder.decode());
        const rest = takePending();
        if (opts.watcher.finished) {
          end("complete");
          return rest.length > 0 ? encoder.encode(rest) : null;
        }
        end("truncated");
        return encoder.encode(rest + errorEvent("truncated"));
      },
      left() {
        end("client_cancelled");
      },
    },
    opts.leaves,
  );
}

/** Renders one SSE event the way the providers write them. */
export function formatSse(event: EventSourceMessage): string {
  return `${event.event ? `event: ${event.event}\n` : ""}data: ${event.data}\n\n`;
}

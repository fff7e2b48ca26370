import type { EventSourceMessage } from "eventsource-parser";
import { StokerError } from "../core/errors.ts";
import type { AnswerEnd } from "./answer.ts";
import type { MessageFacts } from "./diagnostics.ts";
import type { EndpointSpec } from "./endpoints.ts";
import { pipeEventStream } from "./eventstream.ts";
import { relayJson } from "./json-relay.ts";
import type { Result } from "./outcome.ts";
import { pipeSse, type Rewritten, type StreamEnd } from "./sse.ts";
import { type Usage, usageHeader } from "./usage.ts";

/** How a relayed answer ended: what the outcome record and a GPU pool's lease report need. */
export interface RelayEnd {
  /** The status the client got (502 when the body broke before Stoker could send it). */
  status: number;
  result: Result;
  /** How the stream or the body read ended; null for an upstream error passed through. */
  end: StreamEnd | null;
  /** The answer was an SSE stream, relayed as it came. */
  streamed: boolean;
  usage: Usage | null;
  headersMs: number;
  /** Until the first body byte (streams), else until the headers. */
  ttfbMs: number;
  durationMs: number;
  /** Anthropic: the answer's message id and cache diagnostics. */
  message: MessageFacts | null;
  /** How the answer ended, where it said. */
  answer: AnswerEnd | null;
}

export interface RelayOptions {
  upstream: Response;
  /** The client's response headers, already set by the caller; `x-stoker-cache` is added here. */
  headers: Headers;
  /** Wall-clock start of the request, for the latencies. */
  startedAt: number;
  headersMs: number;
  spec: Pick<EndpointSpec<string>, "watcher" | "jsonUsage" | "jsonAnswer" | "streamError" | "eventStream">;
  /** Who answered, for the client's error messages: "The upstream" or "The GPU backend's". */
  source: string;
  /** Rewrites stream events (hiding usage or diagnostics the client did not ask for): `PipeOptions.rewrite`. */
  rewriteEvent?: ((event: EventSourceMessage) => Rewritten) | undefined;
  /** Rewrites a body read whole before the client gets it. */
  rewriteText?: ((text: string) => string) | undefined;
  /** Anthropic: message facts from a JSON answer. */
  jsonFacts?: ((json: Record<string, unknown>) => MessageFacts | null) | undefined;
  /**
   * Read an upstream error's body whole (GPU backends: one that refuses a request's headers answers and
   * resets, and the client gets a clear 502) instead of passing it through as it comes.
   */
  readErrors?: boolean;
  /**
   * Relay a 2xx JSON answer as it arrives (json-relay.ts), its text kept on the way for usage, instead of
   * reading it whole (which `x-stoker-cache` needs). `hideDiagnostics` nulls its top-level `diagnostics` on
   * the way; `waitUntil` keeps reading the rest after a client leaves early. Unset: read whole, `rewriteText` applied.
   */
  streamJson?:
    | {
        hideDiagnostics: boolean;
        /** Top-level values rewritten on the way (json-relay.ts `TopLevelRewriter`). */
        replaceTopLevel?: Record<string, (value: string) => string> | undefined;
        waitUntil: (p: Promise<unknown>) => void;
      }
    | undefined;
  /** The client's request signal, aborted when the client leaves: a streamed answer stops and says so at once. */
  clientSignal?: AbortSignal | undefined;
  /**
   * Where `onEnd` runs (with, for a JSON answer, the parse of its text for usage): the proxy's afterThisTurn, a
   * later turn of the event loop, so that the answer's last byte (a JSON answer whole in its first chunk is
   * handed over after the end is known; a stream closes after) never waits for the accounting. Its times are
   * taken as the answer ends. Unset: at once.
   */
  later?: ((work: () => void) => void) | undefined;
  /** Called exactly once, when the answer is done (before a 502 is thrown), through `later` when set. */
  onEnd(end: RelayEnd): void;
}

/**
 * The one relay of every route family: streams an SSE answer back untouched (never buffered) while a
 * watcher reads usage on the side, reads a JSON answer's usage, passes upstream errors through, and
 * turns a body that breaks before Stoker could send it into a 502 accounted once.
 */
export async function relay(o: RelayOptions): Promise<Response> {
  const { upstream, headers, startedAt, headersMs, spec } = o;
  type Rest = Omit<RelayEnd, "headersMs" | "durationMs" | "streamed" | "answer"> &
    Partial<Pick<RelayEnd, "durationMs" | "streamed" | "answer">>;
  const later = o.later ?? ((work: () => void) => work());
  /** The end, its times taken now; `rest` made with `onEnd`, through `later`. */
  const done = (rest: () => Rest) => {
    const durationMs = Date.now() - startedAt;
    later(() => o.onEnd({ headersMs, durationMs, streamed: false, answer: null, ...rest() }));
  };

  const isSse = (upstream.headers.get("content-type") ?? "").startsWith("text/event-stream");
  if (upstream.ok && isSse && upstream.body) {
    const watcher = spec.watcher();
    const piped = pipeSse(upstream.body, {
      watcher,
      leaves: o.clientSignal,
      rewrite: o.rewriteEvent,
      errorEvent: (reason) =>
        spec.streamError(
          reason === "truncated" ? `${o.source} stream ended early.` : `${o.source} stream was interrupted.`,
        ),
      onEnd: (end, firstByteAt) => {
        const doneAt = Date.now();
        const result: Result =
          end === "complete"
            ? watcher.upstreamError
              ? "upstream_error"
              : "ok"
            : end === "upstream_error"
              ? "upstream_error"
              : end;
        done(() => ({
          status: upstream.status,
          result,
          end,
          usage: watcher.usage(),
          ttfbMs: (firstByteAt ?? doneAt) - startedAt,
          durationMs: doneAt - startedAt,
          streamed: true,
          message: watcher.facts?.() ?? null,
          answer: watcher.answer?.() ?? null,
        }));
      },
    });
    return new Response(piped, { status: upstream.status, headers });
  }

  const contentType = upstream.headers.get("content-type") ?? "";
  if (upstream.ok && spec.eventStream && contentType.startsWith("application/vnd.amazon.eventstream")) {
    const { eventStream } = spec;
    const upstreamBody = upstream.body;
    if (upstreamBody) {
      const watcher = eventStream.watcher();
      const piped = pipeEventStream(upstreamBody, {
        watcher,
        leaves: o.clientSignal,
        errorFrame: (reason) =>
          eventStream.errorFrame(
            reason === "truncated"
              ? `${o.source} stream ended early.`
              : `${o.source} stream was interrupted.`,
          ),
        onEnd: (end, firstByteAt) => {
          const doneAt = Date.now();
          done(() => ({
            status: upstream.status,
            result:
              end === "complete"
                ? watcher.upstreamError
                  ? "upstream_error"
                  : "ok"
                : end === "upstream_error"
                  ? "upstream_error"
                  : end,
            end,
            usage: watcher.usage(),
            ttfbMs: (firstByteAt ?? doneAt) - startedAt,
            durationMs: doneAt - startedAt,
            streamed: true,
            message: null,
            answer: watcher.answer?.() ?? null,
          }));
        },
      });
      return new Response(piped, { status: upstream.status, headers });
    }
  }

  if (!upstream.ok && !o.readErrors) {
    // Upstream errors (429 with retry-after, 529, 5xx, 4xx) reach the client unchanged.
    done(() => ({
      status: upstream.status,
      result: "upstream_error",
      end: null,
      usage: null,
      ttfbMs: headersMs,
      message: null,
    }));
    return new Response(upstream.body, { status: upstream.status, headers });
  }

  const facts = (text: string) => {
    let usage: Usage | null = null;
    let message: MessageFacts | null = null;
    let answer: AnswerEnd | null = null;
    try {
      const json = JSON.parse(text) as Record<string, unknown>;
      usage = spec.jsonUsage(json);
      message = o.jsonFacts?.(json) ?? null;
      answer = spec.jsonAnswer?.(json) ?? null;
    } catch {
      // Not JSON: forwarded as it came, accounted without usage.
    }
    return { usage, message, answer };
  };

  const broke = () => {
    // The connection broke before the client got a byte: a clear 502, and the request is accounted once.
    done(() => ({
      status: 502,
      result: "upstream_error",
      end: "upstream_error",
      usage: null,
      ttfbMs: headersMs,
      message: null,
    }));
    return new StokerError(502, "bad_gateway", `${o.source} connection broke while sending its answer.`);
  };

  if (upstream.ok && o.streamJson && upstream.body) {
    // Flows as it arrives (or goes whole when it came whole): a break mid-body reaches the client as a broken
    // body (its status went out first); a break before the first byte is a 502 (json-relay.ts answers null).
    const body = await relayJson(upstream.body, {
      hideDiagnostics: o.streamJson.hideDiagnostics,
      replaceTopLevel: o.streamJson.replaceTopLevel,
      waitUntil: o.streamJson.waitUntil,
      leaves: o.clientSignal,
      onEnd: (end, text) =>
        done(() => {
          const { usage, message, answer } =
            text === null ? { usage: null, message: null, answer: null } : facts(text);
          return {
            status: upstream.status,
            result: end === "complete" ? "ok" : "upstream_error",
            end,
            usage,
            ttfbMs: headersMs,
            message,
            answer,
          };
        }),
    });
    if (body === null) throw broke();
    return new Response(body, { status: upstream.status, headers });
  }

  let text: string;
  try {
    text = await upstream.text();
  } catch {
    throw broke();
  }
  let usage: Usage | null = null;
  let message: MessageFacts | null = null;
  let answer: AnswerEnd | null = null;
  if (upstream.ok) {
    ({ usage, message, answer } = facts(text));
    if (usage) headers.set("x-stoker-cache", usageHeader(usage));
    if (o.rewriteText) text = o.rewriteText(text);
  }
  done(() => ({
    status: upstream.status,
    result: upstream.ok ? "ok" : "upstream_error",
    end: "complete",
    usage,
    ttfbMs: headersMs,
    message,
    answer,
  }));
  return new Response(text, { status: upstream.status, headers });
}

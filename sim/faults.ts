import type { Provider } from "./errors.ts";
import { isObject } from "./json.ts";
import { sleep } from "./sse.ts";

/**
 * A fault armed with `POST /__sim/faults`; it applies to the next `count` provider requests of its namespace
 * (of `provider` only, when given). Effects combine: a delay then a status, or a delay then a cut stream.
 */
export interface Fault {
  /** Requests still to affect. */
  count: number;
  provider?: Provider;
  /** Answer with this status and the provider-shaped error body instead of processing the request. */
  status?: number;
  /** Overrides the provider error type (default from the status: 429 rate_limit_error, 529 overloaded_error…). */
  error_type?: string;
  /** Overrides the error message. */
  message?: string;
  /** Sets `retry-after` (default 1 on 429). */
  retry_after_seconds?: number;
  /** Holds the response headers back this long. */
  delay_ms?: number;
  /** Closes the body cleanly after this many SSE events or event-stream messages (non-streaming bodies: after half the bytes, or none with 0). */
  truncate_after_events?: number;
  /** Errors the body (a connection reset) after this many SSE events (non-streaming: after half the bytes, or none with 0). */
  reset_after_events?: number;
  /** Extra delay between streamed events. */
  stream_delay_ms?: number;
}

// A reset waits this long after the last event so that a Node server flushes the events before destroying
// the socket (destroy() drops unflushed writes).
const RESET_GRACE_MS = 25;

const NUMBER_FIELDS = [
  "status",
  "retry_after_seconds",
  "delay_ms",
  "truncate_after_events",
  "reset_after_events",
  "stream_delay_ms",
] as const;

function parseOne(v: unknown): Fault | string {
  if (!isObject(v)) return "each fault must be a JSON object";
  const fault: Fault = { count: 1 };
  if (v.count !== undefined) {
    if (typeof v.count !== "number" || !Number.isInteger(v.count) || v.count < 1) {
      return "count must be a positive integer";
    }
    fault.count = v.count;
  }
  if (v.provider !== undefined) {
    if (
      v.provider !== "anthropic" &&
      v.provider !== "openai" &&
      v.provider !== "gemini" &&
      v.provider !== "compat" &&
      v.provider !== "bedrock"
    )
      return 'provider must be "anthropic", "openai", "gemini", "compat" or "bedrock"';
    fault.provider = v.provider;
  }
  for (const k of NUMBER_FIELDS) {
    const n = v[k];
    if (n === undefined) continue;
    if (typeof n !== "number" || !Number.isFinite(n) || n < 0) return `${k} must be a non-negative number`;
    fault[k] = n;
  }
  for (const k of ["error_type", "message"] as const) {
    const s = v[k];
    if (s === undefined) continue;
    if (typeof s !== "string") return `${k} must be a string`;
    fault[k] = s;
  }
  if (fault.status !== undefined && (fault.status < 400 || fault.status > 599))
    return "status must be 400-599";
  if (fault.truncate_after_events !== undefined && fault.reset_after_events !== undefined) {
    return "truncate_after_events and reset_after_events are exclusive";
  }
  const effects = [
    "status",
    "delay_ms",
    "truncate_after_events",
    "reset_after_events",
    "stream_delay_ms",
  ] as const;
  if (!effects.some((k) => fault[k] !== undefined)) return `a fault needs one of ${effects.join(", ")}`;
  return fault;
}

/** Parses `{...fault}` or `{"faults": [...]}`; a string is the validation error. */
export function parseFaults(body: unknown): Fault[] | string {
  const list = isObject(body) && Array.isArray(body.faults) ? body.faults : [body];
  const out: Fault[] = [];
  for (const item of list) {
    const f = parseOne(item);
    if (typeof f === "string") return f;
    out.push(f);
  }
  return out;
}

/** Takes the first armed fault that applies to `provider`, consuming one of its uses. */
export function takeFault(queue: Fault[], provider: Provider): Fault | undefined {
  const i = queue.findIndex((f) => f.provider === undefined || f.provider === provider);
  const fault = queue[i];
  if (!fault) return undefined;
  fault.count--;
  if (fault.count <= 0) queue.splice(i, 1);
  return { ...fault, count: 1 };
}

function cutAfterEvents(body: ReadableStream<Uint8Array>, fault: Fault): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const reset = fault.reset_after_events !== undefined;
  const limit = fault.reset_after_events ?? fault.truncate_after_events ?? Number.POSITIVE_INFINITY;
  let sent = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (sent >= limit) {
          await reader.cancel();
          if (reset) {
            await sleep(RESET_GRACE_MS);
            controller.error(new Error("simulated connection reset"));
          } else controller.close();
          return;
        }
        if (sent > 0 && fault.stream_delay_ms) await sleep(fault.stream_delay_ms);
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          return;
        }
        sent++;
        controller.enqueue(value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** The first `upTo` bytes, then a clean end or a reset (`upTo` 0: after the headers, before any byte). */
function cutAfter(bytes: Uint8Array, upTo: number, reset: boolean): ReadableStream<Uint8Array> {
  let sent = upTo === 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(bytes.slice(0, upTo));
        } else if (reset) {
          await sleep(RESET_GRACE_MS);
          controller.error(new Error("simulated connection reset"));
        } else controller.close();
      },
    },
    { highWaterMark: 0 },
  );
}

/** Applies the body-shaping parts of a fault (truncation, reset, event delay) to a response. */
export async function applyBodyFault(res: Response, fault: Fault): Promise<Response> {
  const cut = fault.truncate_after_events !== undefined || fault.reset_after_events !== undefined;
  if (!res.body || (!cut && !fault.stream_delay_ms)) return res;
  const headers = new Headers(res.headers);
  headers.delete("content-length");
  // SSE, or AWS event-stream framing (Bedrock): one event (one message) per chunk either way.
  const type = res.headers.get("content-type") ?? "";
  const isStream = type.includes("text/event-stream") || type.includes("application/vnd.amazon.eventstream");
  if (isStream) return new Response(cutAfterEvents(res.body, fault), { status: res.status, headers });
  if (!cut) return res;
  const bytes = new Uint8Array(await res.arrayBuffer());
  // Half the bytes; none with a count of 0 (the headers went out, then the connection broke).
  const upTo =
    (fault.reset_after_events ?? fault.truncate_after_events) === 0 ? 0 : Math.floor(bytes.length / 2);
  return new Response(cutAfter(bytes, upTo, fault.reset_after_events !== undefined), {
    status: res.status,
    headers,
  });
}

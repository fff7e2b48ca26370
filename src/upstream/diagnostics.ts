import type { EventSourceMessage } from "eventsource-parser";
import { PathSpans } from "./body/scan.ts";
import { formatSse, type Rewritten } from "./sse.ts";

// Anthropic cache diagnostics (GA; @anthropic-ai/sdk 1.14 `DiagnosticsParam`, `Diagnostics`, `CacheMissReason`).
// A request's `diagnostics: {previous_message_id}` names an earlier response; the answer's `diagnostics` is
// `{cache_miss_reason}` when the prompt diverged from that request's, else null. The API keeps a request's
// fingerprint only when the request carried `diagnostics` (`previous_message_id: null` opts in on a first
// turn). No beta header: the SDK deprecates `cache-diagnosis-2026-04-07` ("delete it from your requests").

type Json = Record<string, unknown>;

/** The provider's reason for a miss, as the tracker stores it. */
export interface ProviderMiss {
  reason: string;
  /** Approximate prompt tokens the divergence cost (the `*_changed` reasons only). */
  missedTokens: number | null;
}

/** What Stoker keeps of an Anthropic answer besides usage. */
export interface MessageFacts {
  /** The answer's `id`, when it looks like one (anything else is dropped: fail open). */
  messageId: string | null;
  miss: ProviderMiss | null;
}

/** Message ids Stoker passes on as `previous_message_id`: short, plain (`msg_…`). */
const MESSAGE_ID = /^[A-Za-z0-9_-]{1,128}$/;
const REASON = /^[a-z_]{1,40}$/;

/** A message id Stoker may store and send back, or null. */
export function messageIdOf(v: unknown): string | null {
  return typeof v === "string" && MESSAGE_ID.test(v) ? v : null;
}

/** The id and the cache-miss reason of an Anthropic message (a JSON answer, or `message_start.message`). */
export function messageFacts(message: unknown): MessageFacts {
  if (message === null || typeof message !== "object") return { messageId: null, miss: null };
  const m = message as Json;
  const diagnostics = m.diagnostics as Json | null | undefined;
  const reason =
    diagnostics && typeof diagnostics === "object" ? (diagnostics.cache_miss_reason as Json) : null;
  let miss: ProviderMiss | null = null;
  if (reason && typeof reason === "object" && typeof reason.type === "string" && REASON.test(reason.type)) {
    const t = reason.cache_missed_input_tokens;
    const missedTokens = typeof t === "number" && Number.isSafeInteger(t) && t >= 0 ? t : null;
    miss = { reason: reason.type, missedTokens };
  }
  return { messageId: messageIdOf(m.id), miss };
}

/**
 * The forwarded body with `diagnostics: {previous_message_id}` added (null opts in without a comparison).
 * Only for a body without a `diagnostics` key: the client's own is never touched. Edits the bytes.
 */
export function askDiagnostics(raw: string, previousMessageId: string | null): string {
  return raw.replace(/^(\s*)\{/, `$1{${diagnosticsField(previousMessageId)},`);
}

/** The request's `diagnostics` entry, naming the conversation's previous answer (null for none). */
export function diagnosticsField(previousMessageId: string | null): string {
  return `"diagnostics":${JSON.stringify({ previous_message_id: previousMessageId })}`;
}

/** Sets the value at `path` of a JSON text to null, leaving every other byte as it was. */
function nullAt(text: string, path: readonly string[]): string {
  const span = new PathSpans(text, [path], []).span(path);
  if (!span || text.slice(span.start, span.end) === "null") return text;
  return `${text.slice(0, span.start)}null${text.slice(span.end)}`;
}

/**
 * A JSON answer to a request whose diagnostics Stoker added, as the client would have had it without them:
 * `diagnostics` is null (what the API answers when a request carries none). Not JSON: unchanged.
 */
export function hideDiagnostics(text: string): string {
  try {
    JSON.parse(text);
  } catch {
    return text;
  }
  return nullAt(text, ["diagnostics"]);
}

/** The same for a stream: only `message_start` carries `diagnostics`; every other event passes as it came. */
export function hideStreamDiagnostics(event: EventSourceMessage): Rewritten {
  if (event.event !== "message_start" || !event.data.includes('"diagnostics"')) return undefined;
  try {
    JSON.parse(event.data);
  } catch {
    return undefined;
  }
  return formatSse({ ...event, data: nullAt(event.data, ["message", "diagnostics"]) });
}

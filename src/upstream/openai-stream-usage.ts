import type { EventSourceMessage } from "eventsource-parser";
import { PathSpans } from "./body/scan.ts";
import { formatSse, type Rewritten } from "./sse.ts";

type Json = Record<string, unknown>;

/** True when the client itself asked for the usage chunk of a Chat Completions stream. */
export function clientWantsStreamUsage(body: Json): boolean {
  const options = body.stream_options;
  return options !== null && typeof options === "object" && (options as Json).include_usage === true;
}

/** The entry that asks for a stream's usage, for a body without `stream_options`. */
export const STREAM_USAGE_FIELD = '"stream_options":{"include_usage":true}';

/**
 * The body Stoker forwards (`raw`: the rendered plan, not the client's bytes) with
 * `stream_options.include_usage: true`, so Stoker can account a stream the client did not. Edits the bytes
 * of `raw` only; `body` is the client's parsed request, to tell which edit is needed.
 */
export function requestStreamUsage(raw: string, body: Json): string {
  if (!("stream_options" in body)) return raw.replace(/^(\s*)\{/, `$1{${STREAM_USAGE_FIELD},`);
  // Rare: the client sent stream_options without include_usage (or with it false or null).
  const path = ["stream_options"];
  const spans = new PathSpans(raw, [path], [path]);
  const span = spans.span(path);
  if (!span) return raw;
  const entries = spans.entries(path);
  if (entries === null) return `${raw.slice(0, span.start)}{"include_usage":true}${raw.slice(span.end)}`;
  // JSON.parse keeps the last of duplicate keys: that is the one to set.
  const existing = entries.findLast((e) => e.key === "include_usage");
  if (existing) return `${raw.slice(0, existing.start)}true${raw.slice(existing.end)}`;
  const at = span.end - 1;
  return `${raw.slice(0, at)}${entries.length > 0 ? "," : ""}"include_usage":true${raw.slice(at)}`;
}

/** A chunk's `usage: null` as its last top-level entry (the closing brace is the object's own). */
const NULL_USAGE_LAST = ',"usage":null}';

/**
 * Undoes what include_usage adds, so the client sees exactly the stream it asked for: every chunk's
 * `"usage": null` and the final usage-only chunk (empty `choices`) are removed.
 */
export function hideStreamUsage(event: EventSourceMessage): Rewritten {
  if (event.data === "[DONE]" || !event.data.includes('"usage"')) return undefined;
  // OpenAI writes the null usage last: cut it from the text, without a parse and a serialization per chunk.
  if (event.data.endsWith(NULL_USAGE_LAST))
    return formatSse({ ...event, data: `${event.data.slice(0, -NULL_USAGE_LAST.length)}}` });
  let chunk: Json;
  try {
    chunk = JSON.parse(event.data) as Json;
  } catch {
    return undefined;
  }
  if (chunk.usage !== null && Array.isArray(chunk.choices) && chunk.choices.length === 0) return null;
  if (chunk.usage === null) {
    delete chunk.usage;
    return formatSse({ ...event, data: JSON.stringify(chunk) });
  }
  return undefined;
}

import type { EventSourceMessage } from "eventsource-parser";
import { formatSse } from "./sse.ts";

type Json = Record<string, unknown>;

/** True when the client itself asked for the usage chunk of a Chat Completions stream. */
export function clientWantsStreamUsage(body: Json): boolean {
  const options = body.stream_options;
  return options !== null && typeof options === "object" && (options as Json).include_usage === true;
}

/** The body with `stream_options.include_usage: true`, so Stoker can account a stream the client did not. */
export function requestStreamUsage(raw: string, body: Json): string {
  if (!("stream_options" in body))
    return raw.replace(/^(\s*)\{/, '$1{"stream_options":{"include_usage":true},');
  // Rare: the client sent stream_options without include_usage. Re-serializing once is fine here.
  const options =
    body.stream_options !== null && typeof body.stream_options === "object" ? body.stream_options : {};
  return JSON.stringify({ ...body, stream_options: { ...options, include_usage: true } });
}

/**
 * Undoes what include_usage adds, so the client sees exactly the stream it asked for: every chunk's
 * `"usage": null` and the final usage-only chunk (empty `choices`) are removed.
 */
export function hideStreamUsage(event: EventSourceMessage): string | null {
  if (event.data === "[DONE]" || !event.data.includes('"usage"')) return formatSse(event);
  let chunk: Json;
  try {
    chunk = JSON.parse(event.data) as Json;
  } catch {
    return formatSse(event);
  }
  if (chunk.usage !== null && Array.isArray(chunk.choices) && chunk.choices.length === 0) return null;
  if (chunk.usage === null) {
    delete chunk.usage;
    return formatSse({ ...event, data: JSON.stringify(chunk) });
  }
  return formatSse(event);
}

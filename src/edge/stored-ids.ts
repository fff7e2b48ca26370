/**
 * Stored-object ids under the deploy's shared OpenAI key (issue 18). With one OpenAI organization for every
 * tenant, a response one tenant stored is reachable by any tenant that sends its id. Stoker therefore tags
 * each response id it returns to a tenant with an HMAC under the tenant's secret salt (`resp_…~<tag>`), and
 * forwards a `previous_response_id` only when it carries this tenant's tag (stripped on the way). No lookup,
 * no wait: the tag is the proof. Ids no tenant can have been given through Stoker (files and conversations,
 * whose APIs Stoker does not proxy) are refused outright. Pass-through and a tenant's own key: unchanged.
 */

import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import type { EventSourceMessage } from "eventsource-parser";
import { StokerError } from "../core/errors.ts";
import { PathSpans } from "../upstream/body/scan.ts";
import { formatSse, type Rewritten } from "../upstream/sse.ts";
import type { RepeatedBytes } from "./body-memo.ts";

const SEPARATOR = "~";
const TAG_CHARS = 22; // 132 bits of HMAC-SHA-256, base64url

export interface IdTags {
  tag(id: string): string;
  /** The provider's id when `tagged` carries this tenant's tag, else null. */
  untag(tagged: string): string | null;
}

export function idTags(salt: string): IdTags {
  const mac = (id: string) =>
    createHmac("sha256", salt).update(`response-id:${id}`).digest("base64url").slice(0, TAG_CHARS);
  return {
    tag: (id) => `${id}${SEPARATOR}${mac(id)}`,
    untag(tagged) {
      const at = tagged.lastIndexOf(SEPARATOR);
      if (at <= 0 || tagged.length - at - 1 !== TAG_CHARS) return null;
      const id = tagged.slice(0, at);
      return equal(tagged.slice(at + 1), mac(id)) ? id : null;
    },
  };
}

function equal(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * Checks a request's stored-object ids under the shared key: throws OpenAI's 400 for a `previous_response_id`
 * without this tenant's tag, or any `file_id` (at any depth) or `conversation`; returns the provider's
 * previous_response_id to forward in place of the tagged one (null when the body has none). `parsed`: `body`
 * is the whole body parsed (else only its top level, and `bytes` are searched for nested keys).
 */
export function checkStoredIds(
  body: Record<string, unknown>,
  bytes: Uint8Array,
  parsed: boolean,
  tags: IdTags,
  responses: boolean,
  /** The kept body's bytes these repeat (edge/body-memo.ts): searched already, when it was checked. */
  repeats?: RepeatedBytes,
): string | null {
  if (responses && body.conversation !== undefined && body.conversation !== null)
    throw new StokerError(
      400,
      "invalid_request_error",
      "conversation: conversations are not available through this deploy's shared OpenAI account (Stoker does not proxy the Conversations API). Send the input, or use previous_response_id with an id Stoker returned to you.",
      { param: "conversation" },
    );
  if (hasFileId(body, bytes, parsed, repeats))
    throw new StokerError(
      400,
      "invalid_request_error",
      "file_id: files are not available through this deploy's shared OpenAI account (Stoker does not proxy the Files API). Send the file's content inline (file_data, image_url), or use your own OpenAI key.",
      { param: "file_id" },
    );
  const given = body.previous_response_id;
  if (!responses || given === undefined || given === null) return null;
  const id = typeof given === "string" ? tags.untag(given) : null;
  if (id === null)
    throw new StokerError(
      400,
      "invalid_request_error",
      `Previous response with id '${String(given).slice(0, 100)}' not found.`,
      { param: "previous_response_id", code: "previous_response_not_found" },
    );
  return id;
}

const FILE_ID = "file_id";

/**
 * Bodies whose bytes hold neither `file_id` nor a `\u` escape. A later turn that repeats one through some
 * byte (read after it, edge/body-memo.ts) is searched from there on: the two searches of 400 KB were 0.24
 * ms a 100K-token request in the server (bench/report/native-profile.md). Only bytes found clean go in, so a
 * refused body's next turn is searched whole; the bytes of a kept body are never changed.
 */
const clean = new WeakSet<Uint8Array>();

/** Whether any object in the body has a `file_id`: the parsed body walked, or (bytes) every object key scanned. */
function hasFileId(
  body: Record<string, unknown>,
  full: Uint8Array,
  parsed: boolean,
  repeats: RepeatedBytes | undefined,
): boolean {
  // Unescaped, the key is in the text as it is; escaped, a `\u` is. One native search each, over the bytes
  // (a later turn's text is never joined into one string on the request path; a loop over each occurrence
  // of the key's first byte took milliseconds), from where they stop repeating bytes found clean (a match
  // may start up to its length minus one byte before).
  const bytes = Buffer.from(full.buffer, full.byteOffset, full.byteLength);
  const from = repeats && clean.has(repeats.bytes) ? repeats.through : 0;
  if (
    bytes.indexOf(FILE_ID, Math.max(0, from - FILE_ID.length + 1)) < 0 &&
    bytes.indexOf("\\u", Math.max(0, from - 1)) < 0
  ) {
    clean.add(full);
    return false;
  }
  if (parsed) {
    const stack: unknown[] = [body];
    while (stack.length > 0) {
      const v = stack.pop();
      if (v === null || typeof v !== "object") continue;
      if (Array.isArray(v)) for (const x of v) stack.push(x);
      else {
        if (Object.hasOwn(v, FILE_ID)) return true;
        for (const x of Object.values(v)) stack.push(x);
      }
    }
    return false;
  }
  return bytesHaveKey(full, FILE_ID);
}

/** Every string of a JSON text followed by `:` is a key: each is compared (decoded when escaped). */
function bytesHaveKey(b: Uint8Array, key: string): boolean {
  const decoder = new TextDecoder();
  let i = b.indexOf(34);
  while (i >= 0) {
    let j = i + 1;
    let end: number;
    for (;;) {
      const q = b.indexOf(34, j);
      if (q < 0) return false;
      let k = q - 1;
      while (b[k] === 92) k--;
      if ((q - 1 - k) % 2 === 0) {
        end = q + 1;
        break;
      }
      j = q + 1;
    }
    let n = end;
    while (b[n] === 32 || b[n] === 10 || b[n] === 13 || b[n] === 9) n++;
    if (b[n] === 58 && end - i <= 8 * key.length + 2) {
      try {
        if (JSON.parse(decoder.decode(b.subarray(i, end))) === key) return true;
      } catch {
        // not a valid key: the provider refuses the body
      }
    }
    i = b.indexOf(34, end);
  }
  return false;
}

/** The forwarded body with `previous_response_id`'s value replaced by the provider's id. */
export function untagBody(out: string, id: string): string {
  const path = ["previous_response_id"];
  const span = new PathSpans(out, [path], []).span(path);
  if (!span) return out;
  return `${out.slice(0, span.start)}${JSON.stringify(id)}${out.slice(span.end)}`;
}

/** A Response object's `id` and `previous_response_id` tagged, every other byte as it came. */
function tagObject(text: string, at: readonly string[], tags: IdTags): string {
  const paths = [
    [...at, "id"],
    [...at, "previous_response_id"],
  ];
  let spans: PathSpans;
  try {
    spans = new PathSpans(text, paths, []);
  } catch {
    return text;
  }
  const edits = paths
    .map((p) => spans.span(p))
    .filter((s): s is NonNullable<typeof s> => s !== null && text.charCodeAt(s.start) === 34)
    .sort((a, b) => b.start - a.start);
  let out = text;
  for (const s of edits) {
    const id = JSON.parse(out.slice(s.start, s.end)) as string;
    out = `${out.slice(0, s.start)}${JSON.stringify(tags.tag(id))}${out.slice(s.end)}`;
  }
  return out;
}

/** For a JSON answer relayed as it arrives: its top-level `id` and `previous_response_id`, tagged (json-relay.ts). */
export function taggedTopLevel(tags: IdTags): Record<string, (value: string) => string> {
  const tag = (value: string) => {
    if (!value.startsWith('"')) return value;
    try {
      return JSON.stringify(tags.tag(JSON.parse(value) as string));
    } catch {
      return value;
    }
  };
  return { id: tag, previous_response_id: tag };
}

/** A JSON answer of the Responses API with its ids tagged. Not JSON: unchanged. */
export function tagResponseText(text: string, tags: IdTags): string {
  try {
    JSON.parse(text);
  } catch {
    return text;
  }
  return tagObject(text, [], tags);
}

/** A Responses stream event: the `response` object of `response.*` events carries the ids. */
export function tagResponseEvent(event: EventSourceMessage, tags: IdTags): Rewritten {
  if (!event.data.includes('"response"')) return undefined;
  try {
    JSON.parse(event.data);
  } catch {
    return undefined;
  }
  return formatSse({ ...event, data: tagObject(event.data, ["response"], tags) });
}

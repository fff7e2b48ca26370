import { StokerError } from "../core/errors.ts";
import type { ScanHint } from "../upstream/body/scan.ts";
import { parseAfterKept, type RepeatedBytes } from "./body-memo.ts";
import { isUtf8, type ShallowBody, shallowJson } from "./shallow-json.ts";

export interface JsonBody {
  /** The exact text the client sent: forwarded as is when nothing needs to change. */
  raw: string;
  body: Record<string, unknown>;
  /** The same as bytes, as they came. */
  bytes: Uint8Array;
  /** Parsed after a kept body of the tenant's (which now keeps this one); else it was parsed whole. */
  parsedAfterKept?: true;
  /** That kept body: this one's leading `messages` items are its parsed objects. */
  sharedWith?: Record<string, unknown>;
  /** The render's scan of that kept body, which this text repeats through `upTo`. */
  scanHint?: ScanHint;
  /** That kept body's bytes, which these repeat through `through`. */
  repeats?: RepeatedBytes;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** A body over the analysis budget: its bytes as they came, and only its top level read. */
export interface BytesBody extends ShallowBody {
  raw: null;
  bytes: Uint8Array;
}

/**
 * Reads a JSON object body within `maxBytes`. Up to `analysisMaxBytes` it is decoded and parsed (JsonBody);
 * above, it stays bytes and only its top level is read (BytesBody): the same 413/415/400 StokerErrors, except
 * that syntax inside a large value is the provider's to find.
 */
export async function readRequestBody(
  req: Request,
  maxBytes: number,
  analysisMaxBytes: number,
  /** Parse after the tenant's kept bodies where the text agrees (edge/body-memo.ts). */
  memoTenant?: string,
): Promise<JsonBody | BytesBody> {
  const bytes = await readBytes(req, maxBytes);
  if (bytes.byteLength <= analysisMaxBytes) return parseJson(bytes, memoTenant);
  if (!isUtf8(bytes)) throw notUtf8();
  return { raw: null, bytes, ...shallowJson(bytes) };
}

/** Reads a JSON object body within `maxBytes`, or throws a 413/415/400 StokerError. */
export async function readJsonBody(req: Request, maxBytes: number): Promise<JsonBody> {
  return parseJson(await readBytes(req, maxBytes));
}

function notUtf8(): StokerError {
  return new StokerError(400, "invalid_request_error", "The request body is not valid UTF-8.");
}

async function readBytes(req: Request, maxBytes: number): Promise<Uint8Array> {
  const type = req.headers.get("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type.trim())) {
    throw new StokerError(415, "unsupported_media_type", "Content-Type must be application/json.");
  }
  const length = req.headers.get("content-length");
  const declared = Number(length ?? Number.NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  // With a declared length within the limit (HTTP framing holds the body to it), one native read of the
  // whole body is cheaper than a loop of chunk reads; the size is checked again after, in case it lied.
  const bytes =
    length !== null && /^\d+$/.test(length) && req.body
      ? new Uint8Array(await req.arrayBuffer())
      : await readCapped(req, maxBytes);
  if (bytes.byteLength > maxBytes) throw tooLarge(maxBytes);
  return bytes;
}

function parseJson(bytes: Uint8Array, memoTenant?: string): JsonBody {
  const after = memoTenant === undefined ? null : parseAfterKept(memoTenant, bytes);
  if (after) return { ...after, bytes, parsedAfterKept: true };
  let raw: string;
  try {
    raw = utf8.decode(bytes);
  } catch {
    throw notUtf8();
  }
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch (e) {
    const detail = e instanceof SyntaxError ? `: ${e.message.slice(0, 200)}` : "";
    throw new StokerError(400, "invalid_request_error", `The request body is not valid JSON${detail}`);
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new StokerError(400, "invalid_request_error", "The request body must be a JSON object.");
  }
  return { raw, body: body as Record<string, unknown>, bytes };
}

function tooLarge(maxBytes: number): StokerError {
  return new StokerError(
    413,
    "request_too_large",
    `The request body exceeds the limit of ${maxBytes} bytes.`,
  );
}

async function readCapped(req: Request, maxBytes: number): Promise<Uint8Array> {
  if (!req.body) return new Uint8Array();
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

import type { TokenizerFamily } from "../economics/models.ts";
import type { ChainWriter } from "../prefix/chain.ts";
import { estimateTextTokens } from "../prefix/tokens.ts";
import { isObj, lf, sortedKeys } from "./json.ts";

/**
 * Canonical bytes: every value is fed to the chain in an injective, whitespace-free encoding (strings
 * length-prefixed, so large text and base64 go to the hash as they are). Block-level objects are always fed
 * with sorted keys, because the provider reads them by field name; payload objects the model sees as JSON
 * (schemas, tool arguments) are fed in the order the forwarded body will have. Each feed returns a token estimate.
 */
export interface FeedOptions {
  /** Sort the keys of payload objects (the schemaKeys / argumentKeys rules). */
  sort: boolean;
  /** CRLF -> LF in strings (the lineEndings rule, where it applies). */
  lf: boolean;
  family: TokenizerFamily;
}

/** Feeds any JSON value; returns its estimated tokens when rendered as JSON. */
export function feedValue(w: ChainWriter, v: unknown, o: FeedOptions): number {
  if (typeof v === "string") {
    const s = o.lf ? lf(v) : v;
    w.str(s);
    return estimateTextTokens(s, o.family) + 1;
  }
  if (typeof v === "number") {
    w.tag(`n${v};`);
    return 1 + Math.floor(String(v).length / 3);
  }
  if (typeof v === "boolean") {
    w.tag(v ? "t" : "f");
    return 1;
  }
  if (v === null || v === undefined) {
    w.tag("z");
    return 1;
  }
  let tokens = 1;
  if (Array.isArray(v)) {
    w.tag("[");
    for (const x of v) tokens += feedValue(w, x, o);
    w.tag("]");
    return tokens;
  }
  const obj = v as Record<string, unknown>;
  w.tag("{");
  for (const k of o.sort ? sortedKeys(obj) : Object.keys(obj)) {
    const x = obj[k];
    if (x === undefined) continue;
    w.str(k);
    // A key is about one token plus its quotes and colon.
    tokens += 2 + feedValue(w, x, o);
  }
  w.tag("}");
  return tokens;
}

/** Keys that mark a cache boundary and are not part of the prompt. */
export const MARKER_KEYS: ReadonlySet<string> = new Set(["cache_control", "prompt_cache_breakpoint"]);

/**
 * Feeds a block object: keys sorted, cache markers skipped, `payload` keys fed with the payload options and
 * `nested` keys (arrays of blocks, like tool_result content) fed block by block. Returns estimated tokens.
 */
export function feedBlock(
  w: ChainWriter,
  block: Record<string, unknown>,
  structural: FeedOptions,
  payload: FeedOptions,
  payloadKeys: ReadonlySet<string>,
  nestedKeys: ReadonlySet<string> = NO_KEYS,
): number {
  let tokens = 1;
  w.tag("{");
  for (const k of sortedKeys(block)) {
    const x = block[k];
    if (x === undefined || MARKER_KEYS.has(k)) continue;
    w.str(k);
    if (payloadKeys.has(k)) tokens += feedValue(w, x, payload);
    else if (nestedKeys.has(k) && Array.isArray(x)) {
      w.tag("[");
      for (const item of x) {
        tokens += isObj(item)
          ? feedBlock(w, item, structural, payload, payloadKeys, nestedKeys)
          : feedValue(w, item, structural);
      }
      w.tag("]");
    } else tokens += feedValue(w, x, structural);
  }
  w.tag("}");
  return tokens;
}

export const NO_KEYS: ReadonlySet<string> = new Set();

/** Feeds a text block exactly as `{type, text}` would be fed, so string content and a text block hash alike. */
export function feedTextBlock(w: ChainWriter, text: string, type: string, family: TokenizerFamily): number {
  w.tag("{");
  w.str("text");
  w.str(text);
  w.str("type");
  w.str(type);
  w.tag("}");
  return estimateTextTokens(text, family) + 2;
}

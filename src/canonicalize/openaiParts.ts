import type { TokenizerFamily } from "../economics/models.ts";
import type { ChainWriter } from "../prefix/chain.ts";
import { documentTokens, imageDimensions, openAIImageTokens } from "../prefix/media.ts";
import { type FeedOptions, feedBlock, feedTextBlock, NO_KEYS } from "./feed.ts";
import { canonicalCopy, isObj, type Json, keysSorted } from "./json.ts";

/** Roles whose content parts take `prompt_cache_breakpoint` (assistant output does not). */
export const MARKABLE_ROLES: ReadonlySet<string> = new Set(["system", "developer", "user", "tool"]);

/** Part types that take `prompt_cache_breakpoint` (Chat and Responses spellings). */
const MARKABLE_PARTS: ReadonlySet<string> = new Set([
  "text",
  "image_url",
  "input_audio",
  "file",
  "input_text",
  "input_image",
  "input_file",
]);

/** Whether a content part can carry a breakpoint. */
export function markablePart(part: Json): boolean {
  const type = part.type;
  if (typeof type !== "string" || !MARKABLE_PARTS.has(type)) return false;
  return (
    (type !== "text" && type !== "input_text") || (typeof part.text === "string" && part.text.length > 0)
  );
}

/** Index of the last markable part of a message's content (string content counts as part 0), or -1. */
export function lastMarkable(role: string, content: unknown): number {
  if (!MARKABLE_ROLES.has(role)) return -1;
  if (typeof content === "string") return content.length > 0 ? 0 : -1;
  if (!Array.isArray(content)) return -1;
  for (let j = content.length - 1; j >= 0; j--) {
    const part = content[j];
    if (isObj(part) && markablePart(part)) return j;
  }
  return -1;
}

/** Feeds a content part; returns its estimated tokens (images and files by their own formulas). */
export function feedPart(w: ChainWriter, part: Json, o: FeedOptions, family: TokenizerFamily): number {
  const type = part.type;
  if ((type === "text" || type === "input_text" || type === "output_text") && typeof part.text === "string") {
    const keys = Object.keys(part).filter((k) => k !== "prompt_cache_breakpoint");
    if (keys.length === 2) return feedTextBlock(w, part.text, type, family);
  }
  const tokens = feedBlock(w, part, o, o, NO_KEYS);
  if (type === "image_url" && isObj(part.image_url)) {
    return openAIImageTokens(dataUrlDimensions(part.image_url.url), part.image_url.detail);
  }
  if (type === "input_image") return openAIImageTokens(dataUrlDimensions(part.image_url), part.detail);
  if (type === "file" && isObj(part.file) && typeof part.file.file_data === "string") {
    return documentTokens(part.file.file_data.length);
  }
  if (type === "input_file" && typeof part.file_data === "string")
    return documentTokens(part.file_data.length);
  return tokens;
}

function dataUrlDimensions(url: unknown): ReturnType<typeof imageDimensions> {
  if (typeof url !== "string" || !url.startsWith("data:")) return null;
  const comma = url.indexOf(",");
  return comma > 0 ? imageDimensions(url.slice(comma + 1, comma + 1 + 16_384)) : null;
}

/**
 * The canonical form of a function call's `arguments` string: compact JSON with sorted keys, when it parses
 * as a JSON object; otherwise the string itself.
 */
export function canonicalArguments(args: string): string {
  if (!args.startsWith("{") && !args.trimStart().startsWith("{")) return args;
  try {
    const parsed: unknown = JSON.parse(args);
    if (!isObj(parsed)) return args;
    const compact = JSON.stringify(parsed);
    return keysSorted(parsed) && compact === args ? args : JSON.stringify(canonicalCopy(parsed, true, false));
  } catch {
    return args;
  }
}

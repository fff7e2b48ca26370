// The simulator's token approximation (see README "Token approximation"). Deliberately simple so that
// tests can compute every usage number by hand: ceil(UTF-8 bytes / 4) for text, fixed counts for media.

/** Tokens billed for one image block, whatever its size. */
export const IMAGE_TOKENS = 1600;
/** Tokens billed for one document/file block, whatever its size. */
export const DOCUMENT_TOKENS = 3000;

/** UTF-8 byte length of a string, without allocating. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Tokens of a text: ceil(UTF-8 bytes / 4). */
export function textTokens(s: string): number {
  return Math.ceil(utf8Length(s) / 4);
}

/** Tokens of a JSON value: the tokens of its `JSON.stringify` text. */
export function jsonTokens(v: unknown): number {
  return textTokens(JSON.stringify(v) ?? "");
}

/**
 * Token estimates for images and documents. Dimensions are read from the first bytes of base64 data
 * (PNG, GIF, WebP headers; JPEG's first SOF marker); URLs and unreadable data get a typical size.
 */

export interface Dimensions {
  width: number;
  height: number;
}

const HEAD_CHARS = 16_384;

function decodeHead(b64: string): Uint8Array | null {
  try {
    const head = b64.slice(0, HEAD_CHARS - (Math.min(b64.length, HEAD_CHARS) % 4));
    const bin = atob(head);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

const u16be = (b: Uint8Array, i: number) => ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
const u16le = (b: Uint8Array, i: number) => (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8);
const u24le = (b: Uint8Array, i: number) => u16le(b, i) | ((b[i + 2] ?? 0) << 16);
const u32be = (b: Uint8Array, i: number) => u16be(b, i) * 65536 + u16be(b, i + 2);

/** Width and height from the start of a base64-encoded PNG, GIF, WebP or JPEG, or null. */
export function imageDimensions(base64: string): Dimensions | null {
  const b = decodeHead(base64);
  if (!b || b.length < 30) return null;
  if (b[0] === 0x89 && b[1] === 0x50) return { width: u32be(b, 16), height: u32be(b, 20) };
  if (b[0] === 0x47 && b[1] === 0x49) return { width: u16le(b, 6), height: u16le(b, 8) };
  if (b[0] === 0x52 && b[8] === 0x57) {
    const chunk = String.fromCharCode(b[12] ?? 0, b[13] ?? 0, b[14] ?? 0, b[15] ?? 0);
    if (chunk === "VP8X") return { width: u24le(b, 24) + 1, height: u24le(b, 27) + 1 };
    if (chunk === "VP8 ") return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
    if (chunk === "VP8L") {
      const bits = (b[21] ?? 0) | ((b[22] ?? 0) << 8) | ((b[23] ?? 0) << 16) | ((b[24] ?? 0) << 24);
      return { width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
    }
    return null;
  }
  if (b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) return null;
      const marker = b[i + 1] ?? 0;
      // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { width: u16be(b, i + 7), height: u16be(b, i + 5) };
      }
      i += 2 + u16be(b, i + 2);
    }
  }
  return null;
}

/**
 * Anthropic: about width*height/750 tokens after the image is scaled to fit 1568 px on the long edge and
 * about 1.15 megapixels; unknown sizes count as a full-size image (about 1,600 tokens).
 */
export function anthropicImageTokens(dims: Dimensions | null): number {
  if (!dims || dims.width <= 0 || dims.height <= 0) return 1600;
  let { width, height } = dims;
  const edge = Math.min(1, 1568 / Math.max(width, height), Math.sqrt(1_150_000 / (width * height)));
  width *= edge;
  height *= edge;
  return Math.max(1, Math.ceil((width * height) / 750));
}

/**
 * OpenAI (tile model): `low` detail is 85 tokens; otherwise the image is scaled to fit 2048x2048, then its
 * short side to 768, and costs 85 + 170 per 512-px tile. Unknown sizes count as 1024x1024 (765 tokens).
 */
export function openAIImageTokens(dims: Dimensions | null, detail: unknown): number {
  if (detail === "low") return 85;
  let { width, height } = dims && dims.width > 0 && dims.height > 0 ? dims : { width: 1024, height: 1024 };
  const fit = Math.min(1, 2048 / Math.max(width, height));
  width *= fit;
  height *= fit;
  const short = Math.min(1, 768 / Math.min(width, height));
  width *= short;
  height *= short;
  return 85 + 170 * Math.ceil(width / 512) * Math.ceil(height / 512);
}

/** A PDF: roughly a text page plus a page image per ~10 KB of file; a coarse prior until calibration. */
export function documentTokens(base64Length: number): number {
  return Math.max(200, Math.round((base64Length * 0.75) / 4));
}

const encoder = new TextEncoder();

/** A new tenant key: 32 random bytes, base64url, with a recognizable prefix (shown once, stored hashed). */
export function generateTenantKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return `sk-stoker-${btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "")}`;
}

/** The form `generateTenantKey` issues: `sk-stoker-` and 43 base64url characters (32 bytes). */
export const ISSUED_KEY = /^sk-stoker-[A-Za-z0-9_-]{43}$/;

/** Whether a presented key could be one the directory issued (checked before any directory call). */
export function isIssuedKeyFormat(key: string): boolean {
  return key.length === 53 && ISSUED_KEY.test(key);
}

export async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Equal-length digests compared in constant time. */
export function digestsEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && crypto.subtle.timingSafeEqual(a, b);
}

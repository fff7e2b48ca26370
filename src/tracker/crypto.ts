const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Derived keys by secret and tenant: a key derived under one STOKER_SECRET never serves another. */
const keys = new Map<string, Promise<CryptoKey>>();
const MAX_KEYS = 10_000;

/** AES-256-GCM key for one tenant, derived with HKDF from the worker secret: a leaked row reveals nothing. */
function tenantKey(secret: string, tenantId: string): Promise<CryptoKey> {
  const id = `${secret.length}:${secret}\n${tenantId}`;
  let key = keys.get(id);
  if (!key) {
    if (keys.size >= MAX_KEYS) keys.clear();
    key = (async () => {
      const base = await crypto.subtle.importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"]);
      return crypto.subtle.deriveKey(
        {
          name: "HKDF",
          hash: "SHA-256",
          salt: encoder.encode("stoker/keepalive/v1"),
          info: encoder.encode(tenantId),
        },
        base,
        { name: "AES-GCM", length: 256 },
        false,
        ["encrypt", "decrypt"],
      );
    })();
    keys.set(id, key);
  }
  return key;
}

export interface Sealed {
  iv: ArrayBuffer;
  data: ArrayBuffer;
}

/** Encrypts `plaintext`, binding it to `context` (e.g. the entry hash) as associated data. */
export async function seal(
  secret: string,
  tenantId: string,
  context: string,
  plaintext: string,
): Promise<Sealed> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(context) },
    await tenantKey(secret, tenantId),
    encoder.encode(plaintext),
  );
  return { iv: iv.buffer, data };
}

/** Decrypts what `seal` produced for the same tenant and context; throws if either differs. */
export async function open(
  secret: string,
  tenantId: string,
  context: string,
  sealed: Sealed,
): Promise<string> {
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: sealed.iv, additionalData: encoder.encode(context) },
    await tenantKey(secret, tenantId),
    sealed.data,
  );
  return decoder.decode(plain);
}

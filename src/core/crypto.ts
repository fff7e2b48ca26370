const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * What a sealed value is for. Each purpose derives its own key (HKDF salt `stoker/<purpose>/v2`), so a
 * ciphertext of one purpose never opens as another, whatever its associated data.
 */
export type SealPurpose = "keepalive" | "excerpt" | "provider-key" | "gpu-touch";

/** The one label every purpose shared before v2 (still opened for rows sealed then; see `open`). */
const LEGACY_V1_SALT = "stoker/keepalive/v1";

/** Derived keys by label, secret and scope: a key derived under one STOKER_SECRET never serves another. */
const keys = new Map<string, Promise<CryptoKey>>();
const MAX_KEYS = 10_000;

/**
 * AES-256-GCM key for one tenant scope and label, derived with HKDF from the worker secret: a leaked row
 * reveals nothing. The scope (src/tenants/scope.ts) carries the tenant's generation, so a tenant created
 * again never opens what its predecessor sealed.
 */
function derivedKey(secret: string, salt: string, scope: string): Promise<CryptoKey> {
  const id = `${salt}\n${secret.length}:${secret}\n${scope}`;
  let key = keys.get(id);
  if (!key) {
    if (keys.size >= MAX_KEYS) keys.clear();
    key = (async () => {
      const base = await crypto.subtle.importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"]);
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: encoder.encode(salt), info: encoder.encode(scope) },
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

const saltOf = (purpose: SealPurpose) => `stoker/${purpose}/v2`;

export interface Sealed {
  iv: ArrayBuffer;
  data: ArrayBuffer;
}

async function encrypt(key: CryptoKey, context: string, plaintext: string | Uint8Array): Promise<Sealed> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(context) },
    key,
    typeof plaintext === "string" ? encoder.encode(plaintext) : plaintext,
  );
  return { iv: iv.buffer, data };
}

async function decrypt(key: CryptoKey, context: string, sealed: Sealed): Promise<string> {
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: sealed.iv, additionalData: encoder.encode(context) },
    key,
    sealed.data,
  );
  return decoder.decode(plain);
}

/**
 * Encrypts `plaintext` (text, or its UTF-8) under the purpose's key, binding it to `context` (e.g. the entry
 * hash) as associated data.
 */
export async function seal(
  secret: string,
  scope: string,
  context: string,
  plaintext: string | Uint8Array,
  purpose: SealPurpose,
): Promise<Sealed> {
  return encrypt(await derivedKey(secret, saltOf(purpose), scope), context, plaintext);
}

/**
 * Decrypts what `seal` produced for the same scope, context and purpose; throws if any differs. With
 * `legacy`, a value sealed before v2 (the one shared label) opens too: kept for rows that lapse on their own
 * (keepalive bodies, GPU touches, buster excerpts); the directory migrates its provider keys instead.
 */
export async function open(
  secret: string,
  scope: string,
  context: string,
  sealed: Sealed,
  purpose: SealPurpose,
  legacy = false,
): Promise<string> {
  try {
    return await decrypt(await derivedKey(secret, saltOf(purpose), scope), context, sealed);
  } catch (err) {
    if (!legacy) throw err;
    return decrypt(await derivedKey(secret, LEGACY_V1_SALT, scope), context, sealed);
  }
}

/** Seals as every purpose did before v2 (one shared label): for migrations and their tests only. */
export async function sealLegacyV1(
  secret: string,
  scope: string,
  context: string,
  plaintext: string,
): Promise<Sealed> {
  return encrypt(await derivedKey(secret, LEGACY_V1_SALT, scope), context, plaintext);
}

/** Opens a value sealed before v2 (the directory's migration). */
export async function openLegacyV1(
  secret: string,
  scope: string,
  context: string,
  sealed: Sealed,
): Promise<string> {
  return decrypt(await derivedKey(secret, LEGACY_V1_SALT, scope), context, sealed);
}

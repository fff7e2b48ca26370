import { createHmac } from "node:crypto";

const keys = new Map<string, string>();
/** At most this many tenants' salts in the isolate (cleared past it, as the crypto key cache). */
const MAX_KEYS = 10_000;

/** Salts this isolate holds (tests). */
export const gpuSaltsCached = (): number => keys.size;

/**
 * The `cache_salt` Stoker puts on a tenant's GPU requests. vLLM mixes it into the hash of a prompt's first
 * KV block, so requests with different salts never share cached blocks (nor learn of each other's prompts
 * from time-to-first-token). Derived from the deploy secret and the tenant id with an HMAC under its own
 * label, so it is stable per tenant, different across tenants, and reveals nothing of the secret or of the
 * tenant's routing salt (backend operators and their logs see it). A client's own `cache_salt` never replaces
 * it (a tenant could otherwise choose another tenant's salt): it is mixed in, partitioning the tenant's own
 * cache further (e.g. per end user).
 */
export function cacheSalt(secret: string, tenantId: string, clientSalt: string | null): string {
  const id = `${tenantId}\n${secret}`;
  let key = keys.get(id);
  if (key === undefined) {
    key = createHmac("sha256", secret).update(`gpu-cache-salt:${tenantId}`).digest("base64url");
    if (keys.size >= MAX_KEYS) keys.clear();
    keys.set(id, key);
  }
  if (clientSalt === null) return key.slice(0, 32);
  return createHmac("sha256", key).update(`client:${clientSalt}`).digest("base64url").slice(0, 32);
}

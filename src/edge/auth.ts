import type { Config, TenantRecord } from "../config.ts";
import { type Flavor, StokerError } from "./errors.ts";

/** Who is calling, and whose provider key goes upstream. */
export interface Tenant {
  id: string;
  canonicalize: TenantRecord["canonicalize"];
  /** managed: Stoker adds the tenant's provider key; passthrough: the client's own key goes upstream. */
  mode: "managed" | "passthrough";
}

const encoder = new TextEncoder();

/** The key a client presents: `x-stoker-key` (pass-through), else `x-api-key` or `Authorization: Bearer`. */
export function presentedKey(headers: Headers): { key: string; mode: Tenant["mode"] } | null {
  const stoker = headers.get("x-stoker-key");
  if (stoker) return { key: stoker.trim(), mode: "passthrough" };
  const apiKey = headers.get("x-api-key");
  if (apiKey) return { key: apiKey.trim(), mode: "managed" };
  const auth = headers.get("authorization");
  const bearer = auth?.match(/^Bearer\s+(.+)$/i)?.[1];
  if (bearer) return { key: bearer.trim(), mode: "managed" };
  return null;
}

/** Finds the tenant whose key hash matches, comparing against every tenant in constant time. */
export async function findTenant(
  key: string,
  tenants: readonly TenantRecord[],
): Promise<TenantRecord | null> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(key)));
  let found: TenantRecord | null = null;
  for (const t of tenants) {
    if (crypto.subtle.timingSafeEqual(digest, t.keySha256) && found === null) found = t;
  }
  return found;
}

/** Resolves the calling tenant or throws a provider-shaped 401. */
export async function authenticate(headers: Headers, config: Config, flavor: Flavor): Promise<Tenant> {
  const presented = presentedKey(headers);
  const hint =
    flavor === "anthropic"
      ? "Send your Stoker tenant key as x-api-key (or Authorization: Bearer), or your Anthropic key with x-stoker-key: <tenant key>."
      : "Send your Stoker tenant key as Authorization: Bearer, or your OpenAI key with x-stoker-key: <tenant key>.";
  if (!presented) throw new StokerError(401, "authentication_error", `Missing Stoker tenant key. ${hint}`);
  const record = await findTenant(presented.key, config.tenants);
  if (!record) throw new StokerError(401, "authentication_error", `Unknown Stoker tenant key. ${hint}`);
  return { id: record.id, mode: presented.mode, canonicalize: record.canonicalize };
}

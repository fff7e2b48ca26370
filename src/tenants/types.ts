import type { CanonicalizeRules } from "../canonicalize/rules.ts";
import type { Provider, ProviderKeyName } from "../core/provider.ts";
import type { CacheSettings } from "../plan/settings.ts";

/** A tenant's own provider keys, opened, and those whose sealed value no longer opens. */
export interface ProviderKeyState {
  providerKeys: Partial<Record<ProviderKeyName, string>>;
  /** Set but unusable (sealed under another STOKER_SECRET): refused, never replaced by the deploy's key. */
  brokenProviderKeys: ProviderKeyName[];
}

/** What the edge needs of a directory tenant to serve a request (provider keys decrypted). */
export interface ResolvedTenant extends ProviderKeyState {
  id: string;
  canonicalize: Partial<CanonicalizeRules>;
  /** The tenant's cache settings, defaults filled in. */
  cache: CacheSettings;
}

/** A tenant as the admin API shows it: never a key, only whether one is set. */
export interface TenantInfo {
  id: string;
  source: "directory" | "config";
  /** Which creation of this id (0 for config tenants); its data lives under `tenantScope(id, generation)`. */
  generation: number;
  created_at: number | null;
  key_set: boolean;
  key_rotated_at: number | null;
  provider_keys: Record<Provider, boolean>;
  /** `broken`: set, but it no longer opens; that provider's requests get 403 until it is set again. */
  provider_key_state: Record<Provider, "unset" | "set" | "broken">;
  /** The tenant's own keys for compat upstreams (COMPAT_UPSTREAMS), by upstream name: only those set. */
  compat_key_state: Record<string, "set" | "broken">;
  canonicalize: Partial<CanonicalizeRules>;
  cache: CacheSettings;
}

/** Who made an admin change, for the audit log (never a secret). */
export interface Actor {
  actor: string;
  requestId: string;
}

/** One audit row; `detail` is JSON of what changed (names and flags, never values of secrets). */
export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  action: string;
  tenant: string;
  detail: string;
  request_id: string;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

import type { CanonicalizeRules } from "../canonicalize/rules.ts";
import type { CacheSettings } from "../plan/settings.ts";

export type ProviderName = "anthropic" | "openai";

/** What the edge needs of a directory tenant to serve a request (provider keys decrypted). */
export interface ResolvedTenant {
  id: string;
  canonicalize: Partial<CanonicalizeRules>;
  /** The tenant's cache settings, defaults filled in. */
  cache: CacheSettings;
  providerKeys: Partial<Record<ProviderName, string>>;
}

/** A tenant as the admin API shows it: never a key, only whether one is set. */
export interface TenantInfo {
  id: string;
  source: "directory" | "config";
  created_at: number | null;
  key_set: boolean;
  key_rotated_at: number | null;
  provider_keys: Record<ProviderName, boolean>;
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

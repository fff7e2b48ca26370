import type { CanonicalizeRules } from "../canonicalize/rules.ts";
import type { Config } from "../core/config.ts";
import { StokerError } from "../core/errors.ts";
import type { Provider, ProviderKeyName } from "../core/provider.ts";
import type { CacheSettings } from "../plan/settings.ts";
import { clientOf, resolveTenant, TooManyFailedLookups } from "../tenants/resolve.ts";

/** Who is calling, and whose provider key goes upstream. */
export interface Tenant {
  id: string;
  canonicalize: Partial<CanonicalizeRules>;
  /** What Stoker may do with the tenant's requests' caching (1h writes, disabled, 24h retention). */
  cache: CacheSettings;
  /** managed: Stoker adds the tenant's provider key; passthrough: the client's own key goes upstream. */
  mode: "managed" | "passthrough";
  /** The tenant's own provider keys (admin API), used over the deploy's in managed mode. */
  providerKeys: Partial<Record<ProviderKeyName, string>>;
  /** Own provider keys that no longer open: refused, never replaced by the deploy's key. */
  brokenProviderKeys: readonly ProviderKeyName[];
}

/**
 * The key a client presents: `x-stoker-key` (pass-through), else `x-api-key`, `x-goog-api-key` (what the
 * Gemini SDK sends) or `Authorization: Bearer`, else (Gemini routes only, `query`) the `?key=` parameter.
 */
export function presentedKey(
  headers: Headers,
  query?: URLSearchParams,
): { key: string; mode: Tenant["mode"] } | null {
  const stoker = headers.get("x-stoker-key");
  if (stoker) return { key: stoker.trim(), mode: "passthrough" };
  const apiKey = headers.get("x-api-key") ?? headers.get("x-goog-api-key");
  if (apiKey) return { key: apiKey.trim(), mode: "managed" };
  const auth = headers.get("authorization");
  const bearer = auth?.match(/^Bearer\s+(.+)$/i)?.[1];
  if (bearer) return { key: bearer.trim(), mode: "managed" };
  const inQuery = query?.get("key");
  if (inQuery) return { key: inQuery.trim(), mode: "managed" };
  return null;
}

const hints: Record<Provider, string> = {
  anthropic:
    "Send your Stoker tenant key as x-api-key (or Authorization: Bearer), or your Anthropic key with x-stoker-key: <tenant key>.",
  openai:
    "Send your Stoker tenant key as Authorization: Bearer, or your OpenAI key with x-stoker-key: <tenant key>.",
  gemini:
    "Send your Stoker tenant key as x-goog-api-key (or ?key=, or Authorization: Bearer), or your Gemini key with x-stoker-key: <tenant key>.",
  bedrock:
    "Send your Stoker tenant key as a Bedrock API key (Authorization: Bearer; the AWS SDK's `token` option or AWS_BEARER_TOKEN_BEDROCK), or your own Bedrock API key as Bearer with x-stoker-key: <tenant key>.",
};

/** Resolves the calling tenant or throws a provider-shaped 401. */
export async function authenticate(
  headers: Headers,
  config: Config,
  flavor: Provider,
  env: Env,
  query?: URLSearchParams,
): Promise<Tenant> {
  const presented = presentedKey(headers, flavor === "gemini" ? query : undefined);
  const hint = hints[flavor];
  if (!presented) throw new StokerError(401, "authentication_error", `Missing Stoker tenant key. ${hint}`);
  let record: Awaited<ReturnType<typeof resolveTenant>>;
  try {
    record = await resolveTenant(presented.key, config.tenants, env, Date.now(), clientOf(headers));
  } catch (err) {
    if (err instanceof TooManyFailedLookups) {
      throw new StokerError(429, "rate_limit_error", "Too many unknown Stoker tenant keys; retry later.", {
        headers: { "retry-after": String(err.retryAfterSeconds) },
      });
    }
    throw new StokerError(503, "api_error", "Stoker's tenant directory is unavailable; retry shortly.");
  }
  if (!record) throw new StokerError(401, "authentication_error", `Unknown Stoker tenant key. ${hint}`);
  return {
    id: record.id,
    mode: presented.mode,
    canonicalize: record.canonicalize,
    cache: record.cache,
    providerKeys: record.providerKeys,
    brokenProviderKeys: record.brokenProviderKeys,
  };
}

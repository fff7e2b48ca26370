import type { Config } from "../core/config.ts";
import { StokerError } from "../core/errors.ts";
import { type BedrockAuth, parseBedrockKey } from "../upstream/bedrock-auth.ts";
import type { Credential } from "../upstream/headers.ts";
import type { Tenant } from "./auth.ts";

/** How a managed tenant's Bedrock request is authorized upstream, and the header Stoker sets for it. */
export interface BedrockUpstream {
  auth: BedrockAuth | null;
  /** For `upstreamRequestHeaders`: the Bearer key, or null (the client's credentials dropped; SigV4 signs later). */
  credential: Credential;
}

/**
 * Managed mode: the tenant's own Bedrock key (a Bedrock API key, or AWS credentials set through the admin
 * API), else the deploy's BEDROCK_API_KEY, else its AWS credentials (SigV4). Never the tenant's Stoker key.
 */
export function bedrockUpstream(tenant: Tenant, config: Config): BedrockUpstream {
  if (tenant.brokenProviderKeys.includes("bedrock"))
    throw new StokerError(
      403,
      "permission_error",
      "This tenant's own bedrock key can no longer be opened; an admin must set it again. Stoker does not send the deploy's key in its place.",
    );
  const own = tenant.providerKeys.bedrock;
  const deployKey = config.upstreams.bedrock.apiKey;
  const auth: BedrockAuth | null =
    own !== undefined
      ? parseBedrockKey(own)
      : deployKey
        ? { kind: "bearer", token: deployKey }
        : config.bedrock.aws
          ? { kind: "sigv4", aws: config.bedrock.aws }
          : null;
  if (!auth && !config.simulator)
    throw new StokerError(
      401,
      "authentication_error",
      "Stoker has no Bedrock credentials for this tenant. Set BEDROCK_API_KEY or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or send your own Bedrock API key as Bearer with x-stoker-key: <tenant key> (pass-through mode).",
    );
  return {
    auth,
    credential:
      auth?.kind === "bearer"
        ? { header: "authorization", value: auth.token, tenantOwned: own !== undefined }
        : null,
  };
}

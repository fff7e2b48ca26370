import { AwsV4Signer } from "aws4fetch";
import type { AwsCredentials } from "../core/config.ts";

/** How a Bedrock request is authorized upstream: a Bedrock API key (Bearer) or AWS credentials (SigV4). */
export type BedrockAuth = { kind: "bearer"; token: string } | { kind: "sigv4"; aws: AwsCredentials };

/**
 * A stored Bedrock key (admin API, sealed): AWS credentials are kept as the JSON the admin schema writes
 * (`{"accessKeyId","secretAccessKey","sessionToken"?}`), anything else is a Bedrock API key.
 */
export function parseBedrockKey(stored: string): BedrockAuth {
  if (stored.startsWith("{")) {
    try {
      const k = JSON.parse(stored) as Record<string, unknown>;
      if (typeof k.accessKeyId === "string" && typeof k.secretAccessKey === "string")
        return {
          kind: "sigv4",
          aws: {
            accessKeyId: k.accessKeyId,
            secretAccessKey: k.secretAccessKey,
            sessionToken: typeof k.sessionToken === "string" ? k.sessionToken : undefined,
          },
        };
    } catch {
      // Not JSON after all: a key that happens to start with a brace.
    }
  }
  return { kind: "bearer", token: stored };
}

/**
 * Signs a bedrock-runtime request with SigV4 (service `bedrock`) and sets the result on `headers`:
 * `authorization`, `x-amz-date` and, for temporary credentials, `x-amz-security-token`. Only the host, the
 * date and the content type are signed, so headers passed through from the client cannot break the signature.
 */
export async function signBedrock(
  url: string,
  headers: Headers,
  body: string | Uint8Array,
  aws: AwsCredentials,
  region: string,
): Promise<void> {
  const signer = new AwsV4Signer({
    method: "POST",
    url,
    headers: { "content-type": headers.get("content-type") ?? "application/json" },
    body,
    accessKeyId: aws.accessKeyId,
    secretAccessKey: aws.secretAccessKey,
    sessionToken: aws.sessionToken,
    service: "bedrock",
    region,
  });
  const signed = await signer.sign();
  for (const name of ["authorization", "x-amz-date", "x-amz-security-token"]) {
    const value = signed.headers.get(name);
    if (value) headers.set(name, value);
  }
}

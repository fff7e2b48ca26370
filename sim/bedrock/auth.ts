import { AwsV4Signer } from "aws4fetch";
import { ProviderError } from "../errors.ts";

/**
 * AWS credentials the simulated Bedrock knows (access key id -> secret). Stoker's tests and `npm start` sign
 * with these; any other access key id is refused, as AWS refuses an unknown one.
 */
export const SIM_AWS_CREDENTIALS: Readonly<Record<string, string>> = {
  AKIASTOKERSIMULATOR1: "stoker-simulator-secret-access-key-000000",
  // A second account, for a tenant's own AWS credentials in the tests.
  AKIASTOKERTENANT0001: "stoker-simulator-tenant-secret-key-000000",
};

/** How far a signature's time may be from the simulator's clock (AWS: 15 minutes). */
const MAX_SKEW_MS = 15 * 60 * 1000;

const deny = (type: string, message: string) => new ProviderError({ status: 403, type, message });

const AUTH =
  /^AWS4-HMAC-SHA256\s+Credential=([^/]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;

function amzDate(v: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(v);
  if (!m) return Number.NaN;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as number[];
  return Date.UTC(year ?? 0, (month ?? 1) - 1, day, hour, minute, second);
}

/**
 * Bedrock's two ways in: a Bedrock API key (`Authorization: Bearer`; any token is accepted, the simulator
 * cannot know real keys) or a SigV4 signature, checked by signing the same canonical request again with the
 * secret of its access key id (aws4fetch). Errors as AWS sends them: MissingAuthenticationTokenException,
 * UnrecognizedClientException, InvalidSignatureException (all 403).
 */
export async function checkBedrockAuth(
  headers: Headers,
  url: string,
  body: string,
  credentials: Readonly<Record<string, string>>,
  nowMs: number,
): Promise<void> {
  const auth = headers.get("authorization") ?? "";
  if (/^Bearer\s+\S+/i.test(auth)) return;
  if (auth === "") throw deny("MissingAuthenticationTokenException", "Missing Authentication Token");
  const m = AUTH.exec(auth);
  if (!m)
    throw deny("IncompleteSignatureException", "Authorization header requires a valid SigV4 signature.");
  const [, keyId, , region, service, signedList, signature] = m as unknown as string[];
  const secret = credentials[keyId as string];
  if (!secret)
    throw deny("UnrecognizedClientException", "The security token included in the request is invalid.");
  const date = headers.get("x-amz-date") ?? "";
  const at = amzDate(date);
  if (!Number.isFinite(at)) throw deny("IncompleteSignatureException", "X-Amz-Date is missing or malformed.");
  if (Math.abs(at - nowMs) > MAX_SKEW_MS) throw deny("InvalidSignatureException", "Signature expired.");
  const signed = (signedList as string).split(";");
  const sessionToken = signed.includes("x-amz-security-token")
    ? (headers.get("x-amz-security-token") ?? undefined)
    : undefined;
  const resign: Record<string, string> = {};
  for (const name of signed) {
    if (name === "host" || name === "x-amz-date" || name === "x-amz-security-token") continue;
    resign[name] = headers.get(name) ?? "";
  }
  const again = await new AwsV4Signer({
    method: "POST",
    url,
    headers: resign,
    body,
    accessKeyId: keyId as string,
    secretAccessKey: secret,
    sessionToken,
    service: service as string,
    region: region as string,
    datetime: date,
    allHeaders: true,
  }).sign();
  const expected = /Signature=([0-9a-f]{64})/.exec(again.headers.get("authorization") ?? "")?.[1];
  const expectedHeaders = /SignedHeaders=([a-z0-9;-]+)/.exec(again.headers.get("authorization") ?? "")?.[1];
  if (expected !== signature || expectedHeaders !== signedList || service !== "bedrock")
    throw deny(
      "InvalidSignatureException",
      "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
    );
}

import type { AwsCredentials } from "../core/config.ts";
import type { Provider } from "../core/provider.ts";
import { converseUsage } from "../upstream/bedrock.ts";
import { signBedrock } from "../upstream/bedrock-auth.ts";
import { anthropicUsage, openAIChatUsage, openAIResponsesUsage, type Usage } from "../upstream/usage.ts";

export interface PingRequest {
  upstream: Provider;
  /** Which usage shape the answer has. */
  endpoint: "messages" | "chat.completions" | "responses" | "invoke" | "converse";
  url: string;
  headers: [string, string][];
  body: string;
  apiKey: string | undefined;
  /** Bedrock with AWS credentials: the ping is signed (SigV4) like the request it replays. */
  aws?: { credentials: AwsCredentials; region: string };
  timeoutMs: number;
}

export type PingResult =
  | { kind: "ok"; usage: Usage; status: number }
  | { kind: "rejected"; status: number; retryAfterS: number | null }
  | { kind: "failed" };

/**
 * Sends one keepalive request and reads its usage; never retries (the caller backs off). `fetcher` is the
 * network (the economics replay passes the simulator's app in process).
 */
export async function sendPing(
  req: PingRequest,
  fetcher: (request: Request) => Promise<Response> | Response = (request) => fetch(request),
): Promise<PingResult> {
  const headers = new Headers(req.headers);
  headers.set("content-type", "application/json");
  headers.delete("x-api-key");
  headers.delete("authorization");
  // Rows captured before the capture dropped it may still carry the client's request's key.
  headers.delete("idempotency-key");
  if (req.apiKey) {
    if (req.upstream === "anthropic") headers.set("x-api-key", req.apiKey);
    else headers.set("authorization", `Bearer ${req.apiKey}`);
  }
  let res: Response;
  try {
    if (req.aws) await signBedrock(req.url, headers, req.body, req.aws.credentials, req.aws.region);
    res = await fetcher(
      new Request(req.url, {
        method: "POST",
        headers,
        body: req.body,
        signal: AbortSignal.timeout(req.timeoutMs),
      }),
    );
  } catch {
    return { kind: "failed" };
  }
  if (!res.ok) {
    await res.body?.cancel();
    const retry = Number(res.headers.get("retry-after"));
    return {
      kind: "rejected",
      status: res.status,
      retryAfterS: Number.isFinite(retry) && retry > 0 ? retry : null,
    };
  }
  try {
    const json = (await res.json()) as Record<string, unknown>;
    const read = {
      messages: anthropicUsage,
      "chat.completions": openAIChatUsage,
      responses: openAIResponsesUsage,
      invoke: anthropicUsage,
      converse: converseUsage,
    }[req.endpoint];
    const usage = read(json.usage);
    return usage ? { kind: "ok", usage, status: res.status } : { kind: "failed" };
  } catch {
    return { kind: "failed" };
  }
}

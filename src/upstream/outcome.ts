import type { CompatUpstreamId, Provider } from "../core/provider.ts";
import type { Accounting } from "./accounting.ts";
import type { AnswerEnd } from "./answer.ts";
import type { MessageFacts } from "./diagnostics.ts";

export type Endpoint =
  | "messages"
  | "count_tokens"
  | "chat.completions"
  | "responses"
  | "generate_content"
  | "invoke"
  | "converse";

export type Result = "ok" | "upstream_error" | "truncated" | "client_cancelled" | "unreachable" | "timeout";

/**
 * What happened to one proxied request: handed to the outcome hook after the response is done, which turns it
 * into the request's `Accounting` (its fields, plus the costs) once.
 */
export interface Outcome
  extends Pick<
    Accounting,
    "requestId" | "model" | "stream" | "status" | "usage" | "ttfbMs" | "durationMs" | "plan"
  > {
  tenantId: string;
  upstream: Provider | CompatUpstreamId;
  endpoint: Endpoint;
  result: Result;
  /** `Accounting.at`. */
  startedAt: number;
  /** Until the upstream's response headers arrived. */
  headersMs: number;
  /** Anthropic: the answer's message id and the provider's cache-miss reason, when it sent them. */
  message?: MessageFacts | null;
  /** How the answer ended (a tool call or a reply), where it said. */
  answer?: AnswerEnd | null;
}

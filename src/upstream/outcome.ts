import type { Provider } from "../core/provider.ts";
import type { MessageFacts } from "./diagnostics.ts";
import type { Usage } from "./usage.ts";

export type Endpoint =
  | "messages"
  | "count_tokens"
  | "chat.completions"
  | "responses"
  | "generate_content"
  | "invoke"
  | "converse";

export type Result = "ok" | "upstream_error" | "truncated" | "client_cancelled" | "unreachable" | "timeout";

/** What happened to one proxied request: handed to the outcome hook after the response is done. */
export interface Outcome {
  requestId: string;
  tenantId: string;
  upstream: Provider;
  endpoint: Endpoint;
  model: string;
  stream: boolean;
  /** HTTP status the client got (a stream that broke after its headers keeps its 200). */
  status: number;
  result: Result;
  /** Usage as the upstream reported it; null when it reported none (errors, cut streams). */
  usage: Usage | null;
  startedAt: number;
  /** Until the upstream's response headers arrived. */
  headersMs: number;
  /** Until the first body byte reached Stoker (streams), else equal to headersMs. */
  ttfbMs: number;
  durationMs: number;
  /** Compact description of what Stoker changed in the request, if anything. */
  plan: string | null;
  /** Anthropic: the answer's message id and the provider's cache-miss reason, when it sent them. */
  message?: MessageFacts | null;
}

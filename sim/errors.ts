/** The upstreams the simulator stands in for. */
export type Provider = "anthropic" | "openai" | "gemini" | "compat" | "bedrock";

/** Fields of an expected, client-caused error; each provider renders them in its own body shape. */
export interface ProviderErrorInit {
  status: number;
  message: string;
  /** Provider error type; defaults from the status. */
  type?: string;
  /** OpenAI `param`. */
  param?: string | null;
  /** OpenAI `code`. */
  code?: string | null;
  /** Gemini `error.status` (INVALID_ARGUMENT, NOT_FOUND, ...); defaults from the HTTP status. */
  status_text?: string;
  /** Anthropic `error.details` (e.g. `{error_code: "thread_not_found"}`), which the SDK maps to error classes. */
  details?: Record<string, unknown>;
  headers?: Record<string, string>;
}

/** An expected error with its HTTP status; the app's one error handler renders it provider-shaped. */
export class ProviderError extends Error {
  readonly init: ProviderErrorInit;

  constructor(init: ProviderErrorInit) {
    super(init.message);
    this.name = "ProviderError";
    this.init = init;
  }
}

/** A 400 `invalid_request_error`. */
export function invalid(
  message: string,
  param: string | null = null,
  code: string | null = null,
): ProviderError {
  return new ProviderError({ status: 400, type: "invalid_request_error", message, param, code });
}

import type { Provider } from "./provider.ts";

/** Anthropic's error types; OpenAI's `type` field takes the closest equivalent. */
export type ErrorKind =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "request_too_large"
  | "unsupported_media_type"
  | "rate_limit_error"
  | "api_error"
  | "bad_gateway"
  | "timeout_error"
  | "overloaded_error";

const openAIType: Record<ErrorKind, string> = {
  invalid_request_error: "invalid_request_error",
  authentication_error: "invalid_request_error",
  permission_error: "invalid_request_error",
  not_found_error: "invalid_request_error",
  request_too_large: "invalid_request_error",
  unsupported_media_type: "invalid_request_error",
  rate_limit_error: "rate_limit_exceeded",
  api_error: "server_error",
  bad_gateway: "server_error",
  timeout_error: "server_error",
  overloaded_error: "server_error",
};

const openAICode: Partial<Record<ErrorKind, string>> = {
  authentication_error: "invalid_api_key",
  not_found_error: "not_found",
  request_too_large: "request_too_large",
  unsupported_media_type: "unsupported_media_type",
  bad_gateway: "upstream_unreachable",
  timeout_error: "upstream_timeout",
};

/** An expected error: carries its status and renders in the provider's own shape. */
export class StokerError extends Error {
  readonly status: number;
  readonly kind: ErrorKind;
  readonly param: string | null;
  /** OpenAI's `code` where the provider uses a specific one (`previous_response_not_found`). */
  readonly code: string | null;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    kind: ErrorKind,
    message: string,
    opts: { param?: string; code?: string; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "StokerError";
    this.status = status;
    this.kind = kind;
    this.param = opts.param ?? null;
    this.code = opts.code ?? null;
    this.headers = opts.headers ?? {};
  }
}

// google.rpc.Code names, as the Gemini API puts them in `error.status`.
const googleStatus: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  413: "INVALID_ARGUMENT",
  415: "INVALID_ARGUMENT",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  502: "UNAVAILABLE",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};

/** Gemini's error body, `{"error": {"code", "message", "status"}}`, for an HTTP status. */
export function googleErrorBody(status: number, message: string) {
  return {
    error: {
      code: status,
      message,
      status: googleStatus[status] ?? (status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT"),
    },
  };
}

// Bedrock Runtime's exception names (docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
// "Errors"); AWS's REST-JSON protocol sends the name in `x-amzn-ErrorType` and the text as `{"message"}`.
const bedrockType: Record<ErrorKind, string> = {
  invalid_request_error: "ValidationException",
  authentication_error: "UnrecognizedClientException",
  permission_error: "AccessDeniedException",
  not_found_error: "ResourceNotFoundException",
  request_too_large: "ValidationException",
  unsupported_media_type: "ValidationException",
  rate_limit_error: "ThrottlingException",
  api_error: "InternalServerException",
  bad_gateway: "ServiceUnavailableException",
  timeout_error: "ModelTimeoutException",
  overloaded_error: "ServiceUnavailableException",
};

/** Bedrock's exception name for an error kind (the `x-amzn-ErrorType` header, the event-stream `:exception-type`). */
export function bedrockErrorType(kind: ErrorKind): string {
  return bedrockType[kind];
}

/** The JSON body of an error in the provider's shape. */
export function errorBody(
  flavor: Provider,
  kind: ErrorKind,
  message: string,
  requestId: string,
  param: string | null = null,
  status = 400,
  code: string | null = null,
) {
  if (flavor === "gemini") return googleErrorBody(status, message);
  if (flavor === "bedrock") return { message };
  if (flavor === "anthropic") {
    // Anthropic has no 502/504 types of its own; api_error and timeout_error are what it uses.
    const type =
      kind === "bad_gateway"
        ? "api_error"
        : kind === "unsupported_media_type"
          ? "invalid_request_error"
          : kind;
    return { type: "error", error: { type, message }, request_id: requestId };
  }
  return { error: { message, type: openAIType[kind], param, code: code ?? openAICode[kind] ?? null } };
}

/** A Response carrying a provider-shaped error. */
export function errorResponse(flavor: Provider, err: StokerError, requestId: string): Response {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-stoker-request-id": requestId,
    ...err.headers,
  };
  if (flavor === "bedrock") headers["x-amzn-errortype"] = bedrockType[err.kind];
  return new Response(
    JSON.stringify(errorBody(flavor, err.kind, err.message, requestId, err.param, err.status, err.code)),
    { status: err.status, headers },
  );
}

/** The SSE text that tells a client its stream broke, in each wire format's own stream error shape. */
export const streamErrors = {
  anthropic: (message: string) =>
    `event: error\ndata: ${JSON.stringify({ type: "error", error: { type: "api_error", message } })}\n\n`,
  openAIChat: (message: string) =>
    `data: ${JSON.stringify({ error: { message, type: "server_error", param: null, code: "stream_interrupted" } })}\n\n`,
  openAIResponses: (message: string) =>
    `event: error\ndata: ${JSON.stringify({ type: "error", code: "stream_interrupted", message, param: null })}\n\n`,
  // Gemini's SSE carries no event names; a broken stream ends with a data line holding its JSON error body.
  gemini: (message: string) => `data: ${JSON.stringify(googleErrorBody(500, message))}\n\n`,
} as const;

/** Thrown at startup-equivalent time when the deploy's config is wrong. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

import type { Provider, ProviderErrorInit } from "./errors.ts";

const ANTHROPIC_TYPES: Record<number, [string, string]> = {
  400: ["invalid_request_error", "Invalid request"],
  401: ["authentication_error", "invalid x-api-key"],
  402: ["billing_error", "Your credit balance is too low to access the Anthropic API."],
  403: ["permission_error", "Your API key does not have permission to use the specified resource."],
  404: ["not_found_error", "Not found"],
  413: ["request_too_large", "Request exceeds the maximum allowed number of bytes."],
  429: ["rate_limit_error", "This request would exceed your organization's rate limit (simulated)."],
  500: ["api_error", "Internal server error"],
  504: ["timeout_error", "Request timed out"],
  529: ["overloaded_error", "Overloaded"],
};

const OPENAI_TYPES: Record<number, [string, string, string | null]> = {
  400: ["invalid_request_error", "Invalid request", null],
  401: ["invalid_request_error", "Incorrect API key provided.", "invalid_api_key"],
  403: ["invalid_request_error", "You are not allowed to access this resource.", null],
  404: ["invalid_request_error", "Not found", null],
  429: ["requests", "Rate limit reached for requests (simulated).", "rate_limit_exceeded"],
  500: ["server_error", "The server had an error while processing your request. Sorry about that!", null],
  503: ["server_error", "The engine is currently overloaded, please try again later.", null],
};

// google.rpc.Code names as the Gemini API sends them in `error.status` (ai.google.dev/gemini-api/docs/troubleshooting).
const GEMINI_STATUS: Record<number, [string, string]> = {
  400: ["INVALID_ARGUMENT", "Request contains an invalid argument."],
  401: ["UNAUTHENTICATED", "Request had invalid authentication credentials."],
  403: ["PERMISSION_DENIED", "The caller does not have permission"],
  404: ["NOT_FOUND", "Requested entity was not found."],
  429: ["RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."],
  500: ["INTERNAL", "An internal error has occurred."],
  503: ["UNAVAILABLE", "The model is overloaded. Please try again later."],
  504: ["DEADLINE_EXCEEDED", "Deadline expired before operation could complete."],
};

// Bedrock Runtime's exceptions by status (docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html,
// "Errors"): AWS's REST-JSON protocol names the exception in `x-amzn-ErrorType` and sends `{"message"}`.
const BEDROCK_TYPES: Record<number, [string, string]> = {
  400: ["ValidationException", "Input validation failed."],
  401: ["UnrecognizedClientException", "The security token included in the request is invalid."],
  403: ["AccessDeniedException", "You don't have access to the model with the specified model ID."],
  404: ["ResourceNotFoundException", "The specified resource could not be found."],
  408: ["ModelTimeoutException", "The request took too long to process."],
  424: ["ModelErrorException", "The model returned an error."],
  429: ["ThrottlingException", "Too many requests, please wait before trying again."],
  500: ["InternalServerException", "An internal server error occurred. Retry your request."],
  503: ["ServiceUnavailableException", "The service isn't currently available. Try again later."],
};

/** Bedrock's error response: `{"message"}` with the exception name in `x-amzn-ErrorType`. */
export function bedrockErrorResponse(init: ProviderErrorInit, requestId: string): Response {
  const [type, message] = BEDROCK_TYPES[init.status] ??
    BEDROCK_TYPES[init.status >= 500 ? 500 : 400] ?? ["InternalServerException", "Error"];
  const name = init.type && /^[A-Z][A-Za-z]+Exception$/.test(init.type) ? init.type : type;
  return new Response(JSON.stringify({ message: init.message || message }), {
    status: init.status,
    headers: {
      "content-type": "application/json",
      "x-amzn-errortype": `${name}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
      "x-amzn-requestid": requestId,
      ...init.headers,
    },
  });
}

/** Gemini's error body: `{"error": {"code", "message", "status"}}`. */
export function geminiErrorBody(init: ProviderErrorInit): {
  error: { code: number; message: string; status: string };
} {
  const [status, message] = GEMINI_STATUS[init.status] ??
    GEMINI_STATUS[init.status >= 500 ? 500 : 400] ?? ["UNKNOWN", "Error"];
  return {
    error: { code: init.status, message: init.message || message, status: init.status_text ?? status },
  };
}

/** A provider-shaped error response: Anthropic `{type:"error",error,request_id}`, OpenAI `{error:{...}}`. */
export function errorResponse(provider: Provider, init: ProviderErrorInit, requestId: string): Response {
  const headers: Record<string, string> = { "content-type": "application/json", ...init.headers };
  if (provider === "bedrock") return bedrockErrorResponse(init, requestId);
  if (provider === "gemini") {
    return new Response(JSON.stringify(geminiErrorBody(init)), { status: init.status, headers });
  }
  if (provider === "anthropic") {
    const [type, message] = ANTHROPIC_TYPES[init.status] ??
      ANTHROPIC_TYPES[init.status >= 500 ? 500 : 400] ?? ["api_error", "Error"];
    headers["request-id"] = requestId;
    const body = {
      type: "error",
      error: {
        type: init.type ?? type,
        message: init.message || message,
        ...(init.details ? { details: init.details } : {}),
      },
      request_id: requestId,
    };
    return new Response(JSON.stringify(body), { status: init.status, headers });
  }
  const [type, message, code] = OPENAI_TYPES[init.status] ??
    OPENAI_TYPES[init.status >= 500 ? 500 : 400] ?? ["server_error", "Error", null];
  headers["x-request-id"] = requestId;
  const body = {
    error: {
      message: init.message || message,
      type: init.type ?? type,
      param: init.param ?? null,
      code: init.code !== undefined ? init.code : code,
    },
  };
  return new Response(JSON.stringify(body), { status: init.status, headers });
}

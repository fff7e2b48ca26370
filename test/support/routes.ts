// The routes the hardening harnesses (fuzz, secrets, isolation) walk. Adding a route to every harness is one
// entry in ROUTES. A route whose upstream is a GPU pool says `upstream: "gpu"`: the harnesses then look for
// what went upstream in the GPU simulator's backends (by a header they add), not in the provider simulator.

/**
 * The error shape a route answers in: Anthropic's, OpenAI's, Google's, Bedrock's (`{"message"}` with
 * `x-amzn-ErrorType`), or any JSON object with an `error` field.
 */
export type ErrorShape = "anthropic" | "openai" | "gemini" | "bedrock" | "json";

export type Json = Record<string, unknown>;

export interface FuzzRoute {
  name: string;
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  shape: ErrorShape;
  /**
   * How the caller proves who it is: `tenant` (a Stoker tenant key in the provider's header: x-api-key or
   * Authorization: Bearer), `admin` (Authorization: Bearer ADMIN_TOKEN), `none` (public).
   */
  auth: "tenant" | "admin" | "none";
  /** True when the route forwards to an upstream (the answer then carries `x-stoker-upstream`). */
  proxied: boolean;
  /** A valid request body the fuzzer mutates (`n` varies its size and content); none for bodiless routes. */
  sample?: (n: number, stream: boolean) => Json;
  /** A valid query string's parameters, whose values the fuzzer replaces. */
  query?: () => Record<string, string>;
  /** The route's path parameters (`{id}` in `path`) are filled from this list or with hostile values. */
  ids?: readonly string[];
  /** The route changes state when it succeeds (admin writes); read routes never may. */
  writes?: boolean;
  /** Where a proxied route's requests go: the provider simulator (default) or the test pool's GPU backends. */
  upstream?: "provider" | "gpu";
}

/** The GPU pool of the test worker the harnesses use (test/support/gpu-pools.ts). */
export const HARNESS_POOL = "harness";

const words = (n: number, seed: string) =>
  Array.from({ length: Math.max(1, n) }, (_, i) => `${seed}${i % 37}`).join(" ");

export function anthropicSample(n: number, stream: boolean): Json {
  return {
    model: "claude-sonnet-4-6",
    max_tokens: 16,
    ...(stream ? { stream: true } : {}),
    system: [{ type: "text", text: `You are terse. ${words(20 + n * 40, "sys")}` }],
    tools: [
      {
        name: "lookup",
        description: "Looks a thing up.",
        input_schema: {
          type: "object",
          properties: { q: { type: "string" }, limit: { type: "integer" } },
          required: ["q"],
        },
      },
    ],
    messages: [
      { role: "user", content: [{ type: "text", text: `First question ${words(n, "q")}` }] },
      { role: "assistant", content: "An answer." },
      { role: "user", content: `And a follow-up ${n}` },
    ],
    metadata: { user_id: "fuzz-user" },
    temperature: 0.5,
  };
}

export function anthropicCountSample(n: number): Json {
  const { max_tokens: _m, metadata: _u, temperature: _t, ...rest } = anthropicSample(n, false);
  return rest;
}

export function openAIChatSample(n: number, stream: boolean): Json {
  return {
    model: "gpt-4o-mini",
    ...(stream ? { stream: true } : {}),
    ...(stream && n % 2 === 0 ? { stream_options: { include_usage: true } } : {}),
    max_completion_tokens: 16,
    messages: [
      { role: "system", content: `You are terse. ${words(20 + n * 40, "sys")}` },
      { role: "user", content: [{ type: "text", text: `First question ${words(n, "q")}` }] },
      { role: "assistant", content: "An answer." },
      { role: "user", content: `And a follow-up ${n}` },
    ],
    tools: [
      {
        type: "function",
        function: {
          name: "lookup",
          description: "Looks a thing up.",
          parameters: { type: "object", properties: { q: { type: "string" } }, required: ["q"] },
        },
      },
    ],
    user: "fuzz-user",
  };
}

export function openAIResponsesSample(n: number, stream: boolean): Json {
  return {
    model: "gpt-4o-mini",
    ...(stream ? { stream: true } : {}),
    max_output_tokens: 16,
    instructions: `You are terse. ${words(20 + n * 40, "sys")}`,
    input: [
      { role: "user", content: [{ type: "input_text", text: `First question ${words(n, "q")}` }] },
      { role: "assistant", content: "An answer." },
      { role: "user", content: `And a follow-up ${n}` },
    ],
    tools: [
      {
        type: "function",
        name: "lookup",
        description: "Looks a thing up.",
        parameters: { type: "object", properties: { q: { type: "string" } }, required: ["q"] },
      },
    ],
  };
}

/** A Gemini generateContent body (the model and streaming are in the path). */
export function geminiSample(n: number): Json {
  return {
    systemInstruction: { parts: [{ text: `You are terse. ${words(20 + n * 40, "sys")}` }] },
    tools: [
      {
        functionDeclarations: [
          {
            name: "lookup",
            description: "Looks a thing up.",
            parameters: { type: "OBJECT", properties: { q: { type: "STRING" } }, required: ["q"] },
          },
        ],
      },
    ],
    contents: [
      { role: "user", parts: [{ text: `First question ${words(n, "q")}` }] },
      { role: "model", parts: [{ text: "An answer." }] },
      { role: "user", parts: [{ text: `And a follow-up ${n}` }] },
    ],
    generationConfig: { maxOutputTokens: 16, temperature: 0.5 },
  };
}

/** A Chat Completions body for a compat upstream (COMPAT_UPSTREAMS in vitest.config.ts). */
export function compatChatSample(model: string, cacheControl: boolean) {
  return (n: number, stream: boolean): Json => {
    const base = openAIChatSample(n, stream);
    const system = { type: "text", text: `You are terse. ${words(20 + n * 40, "sys")}` };
    return {
      ...base,
      model,
      messages: [
        {
          role: "system",
          content: [cacheControl ? { ...system, cache_control: { type: "ephemeral" } } : system],
        },
        ...(base.messages as Json[]).slice(1),
      ],
    };
  };
}

/** An OpenAI-compatible chat body for a GPU pool (vLLM-like backends). */
export function gpuChatSample(n: number, stream: boolean): Json {
  return {
    model: "llama-3.1-8b",
    max_tokens: 8,
    ...(stream ? { stream: true } : {}),
    messages: [
      { role: "system", content: `You are terse. ${words(20 + n * 40, "sys")}` },
      { role: "user", content: `First question ${words(n, "q")}` },
      { role: "assistant", content: "An answer." },
      { role: "user", content: `And a follow-up ${n}` },
    ],
  };
}

/** Every route Stoker serves today. */
const BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1%3A0";

/** A Bedrock InvokeModel body for Claude: the Anthropic body with `anthropic_version` and without `model`. */
export function bedrockInvokeSample(n: number): Json {
  const { model: _m, metadata: _u, ...rest } = anthropicSample(n, false);
  return { anthropic_version: "bedrock-2023-05-31", ...rest };
}

/** A Bedrock Converse body. */
export function bedrockConverseSample(n: number): Json {
  return {
    system: [{ text: `You are terse. ${words(20 + n * 40, "sys")}` }],
    toolConfig: {
      tools: [
        {
          toolSpec: {
            name: "lookup",
            description: "Looks a thing up.",
            inputSchema: { json: { type: "object", properties: { q: { type: "string" } }, required: ["q"] } },
          },
        },
      ],
    },
    messages: [
      { role: "user", content: [{ text: `First question ${words(n, "q")}` }] },
      { role: "assistant", content: [{ text: "An answer." }] },
      { role: "user", content: [{ text: `And a follow-up ${n}` }] },
    ],
    inferenceConfig: { maxTokens: 16, temperature: 0.5 },
  };
}

const bedrockRoute = (operation: string, sample: (n: number) => Json): FuzzRoute => ({
  name: `bedrock ${operation}`,
  method: "POST",
  path: `/bedrock/model/${BEDROCK_MODEL}/${operation}`,
  shape: "bedrock",
  auth: "tenant",
  proxied: true,
  sample,
});

export const ROUTES: FuzzRoute[] = [
  {
    name: "anthropic messages",
    method: "POST",
    path: "/anthropic/v1/messages",
    shape: "anthropic",
    auth: "tenant",
    proxied: true,
    sample: anthropicSample,
  },
  {
    name: "anthropic count_tokens",
    method: "POST",
    path: "/anthropic/v1/messages/count_tokens",
    shape: "anthropic",
    auth: "tenant",
    proxied: true,
    sample: anthropicCountSample,
  },
  {
    name: "openai chat",
    method: "POST",
    path: "/openai/v1/chat/completions",
    shape: "openai",
    auth: "tenant",
    proxied: true,
    sample: openAIChatSample,
  },
  {
    name: "openai responses",
    method: "POST",
    path: "/openai/v1/responses",
    shape: "openai",
    auth: "tenant",
    proxied: true,
    sample: openAIResponsesSample,
  },
  {
    name: "gemini generateContent",
    method: "POST",
    path: "/gemini/v1beta/models/gemini-2.5-flash:generateContent",
    shape: "gemini",
    auth: "tenant",
    proxied: true,
    sample: geminiSample,
  },
  {
    name: "gemini streamGenerateContent",
    method: "POST",
    path: "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent",
    shape: "gemini",
    auth: "tenant",
    proxied: true,
    sample: geminiSample,
    query: () => ({ alt: "sse" }),
  },
  {
    name: "gemini countTokens",
    method: "POST",
    path: "/gemini/v1beta/models/gemini-2.5-flash:countTokens",
    shape: "gemini",
    auth: "tenant",
    proxied: true,
    sample: (n) => ({ contents: geminiSample(n).contents }),
  },
  {
    name: "compat deepseek chat",
    method: "POST",
    path: "/compat/deepseek/v1/chat/completions",
    shape: "openai",
    auth: "tenant",
    proxied: true,
    sample: compatChatSample("deepseek-flash", false),
  },
  {
    name: "compat openrouter chat",
    method: "POST",
    path: "/compat/openrouter/v1/chat/completions",
    shape: "openai",
    auth: "tenant",
    proxied: true,
    sample: compatChatSample("anthropic/claude-sonnet-4.6", true),
  },
  bedrockRoute("converse", bedrockConverseSample),
  bedrockRoute("converse-stream", bedrockConverseSample),
  bedrockRoute("invoke", bedrockInvokeSample),
  bedrockRoute("invoke-with-response-stream", bedrockInvokeSample),
  {
    name: "gpu chat",
    method: "POST",
    path: `/gpu/${HARNESS_POOL}/v1/chat/completions`,
    shape: "openai",
    auth: "tenant",
    proxied: true,
    upstream: "gpu",
    sample: gpuChatSample,
  },
  {
    name: "gpu completions",
    method: "POST",
    path: `/gpu/${HARNESS_POOL}/v1/completions`,
    shape: "openai",
    auth: "tenant",
    proxied: true,
    upstream: "gpu",
    sample: (n, stream) => ({
      model: "llama-3.1-8b",
      max_tokens: 8,
      ...(stream ? { stream: true } : {}),
      prompt: `You are terse. ${words(20 + n * 40, "sys")} Question ${n}:`,
    }),
  },
  { name: "healthz", method: "GET", path: "/healthz", shape: "json", auth: "none", proxied: false },
  // The dashboard: a public page and its files (no data; it reads the analytics API with the tenant's key).
  { name: "dashboard", method: "GET", path: "/dashboard", shape: "json", auth: "none", proxied: false },
  {
    name: "dashboard app",
    method: "GET",
    path: "/dashboard/app.js",
    shape: "json",
    auth: "none",
    proxied: false,
  },
  { name: "openapi", method: "GET", path: "/v1/openapi.json", shape: "openai", auth: "none", proxied: false },
  ...(["summary", "timeseries", "prefixes", "busters"] as const).map(
    (what): FuzzRoute => ({
      name: `analytics ${what}`,
      method: "GET",
      path: `/v1/analytics/${what}`,
      shape: "openai",
      auth: "tenant",
      proxied: false,
      query: (): Record<string, string> => {
        if (what === "prefixes" || what === "busters") return { limit: "10" };
        const range = { from: "2026-11-01T00:00:00Z", to: "2026-11-28T00:00:00Z" };
        return what === "timeseries" ? { ...range, bucket: "1h" } : range;
      },
    }),
  ),
  {
    name: "admin create tenant",
    method: "POST",
    path: "/v1/admin/tenants",
    shape: "openai",
    auth: "admin",
    proxied: false,
    writes: true,
    sample: (n) => ({
      id: `fz-${n}`,
      canonicalize: { toolOrder: n % 2 === 0 },
      keepalive: { maxUsdPerDay: n },
    }),
  },
  {
    name: "admin list tenants",
    method: "GET",
    path: "/v1/admin/tenants",
    shape: "openai",
    auth: "admin",
    proxied: false,
    query: () => ({ limit: "5" }),
  },
  {
    name: "admin get tenant",
    method: "GET",
    path: "/v1/admin/tenants/{id}",
    shape: "openai",
    auth: "admin",
    proxied: false,
  },
  {
    name: "admin settings",
    method: "PATCH",
    path: "/v1/admin/tenants/{id}/settings",
    shape: "openai",
    auth: "admin",
    proxied: false,
    writes: true,
    sample: (n) => ({ keepalive: { enabled: true, maxUsdPerDay: n, maxPingsPerEntry: 3 } }),
  },
  {
    name: "admin provider keys",
    method: "PUT",
    path: "/v1/admin/tenants/{id}/provider-keys",
    shape: "openai",
    auth: "admin",
    proxied: false,
    writes: true,
    sample: (n) => ({ anthropic: `sk-ant-fuzz-provider-${n}`, openai: null }),
  },
  {
    name: "admin rotate key",
    method: "POST",
    path: "/v1/admin/tenants/{id}/rotate-key",
    shape: "openai",
    auth: "admin",
    proxied: false,
    writes: true,
  },
  {
    name: "admin revoke key",
    method: "DELETE",
    path: "/v1/admin/tenants/{id}/key",
    shape: "openai",
    auth: "admin",
    proxied: false,
    writes: true,
  },
  {
    name: "admin delete tenant",
    method: "DELETE",
    path: "/v1/admin/tenants/{id}",
    shape: "openai",
    auth: "admin",
    proxied: false,
    writes: true,
  },
  {
    name: "admin audit",
    method: "GET",
    path: "/v1/admin/audit",
    shape: "openai",
    auth: "admin",
    proxied: false,
    query: () => ({ limit: "5" }),
  },
];

/** Path parameter values the fuzzer tries: admin-created ids, config tenants, and hostile ones. */
export const PATH_IDS = [
  "fz-1",
  "fz-2",
  "fz-3",
  "alpha",
  "nobody",
  "..",
  "a".repeat(65),
  "%00",
  "fz-1%2f..",
  "é",
];

/**
 * Which header carries the credential on a route: Anthropic x-api-key, Gemini x-goog-api-key, else Bearer
 * (the admin token on /v1/admin).
 */
export function authHeaders(route: FuzzRoute, tenantKey: string, adminToken: string): Record<string, string> {
  if (route.auth === "none") return {};
  if (route.auth === "admin") return { authorization: `Bearer ${adminToken}` };
  if (route.shape === "gemini") return { "x-goog-api-key": tenantKey };
  return route.shape === "anthropic" ? { "x-api-key": tenantKey } : { authorization: `Bearer ${tenantKey}` };
}

/** The header a client's own provider key travels in (pass-through mode). */
export function providerKeyHeader(route: FuzzRoute, providerKey: string): [string, string] {
  if (route.shape === "anthropic") return ["x-api-key", providerKey];
  if (route.shape === "gemini") return ["x-goog-api-key", providerKey];
  return ["authorization", `Bearer ${providerKey}`];
}

/** Headers a well-formed request to `route` carries besides auth. */
export function baseHeaders(route: FuzzRoute): Record<string, string> {
  return route.shape === "anthropic"
    ? { "content-type": "application/json", "anthropic-version": "2023-06-01" }
    : { "content-type": "application/json" };
}

import { StokerError } from "../core/errors.ts";
import { type EndpointSpec, openAIChat } from "../upstream/endpoints.ts";
import type { GpuEndpoint } from "./prompt.ts";

function invalid(message: string, param: string): StokerError {
  return new StokerError(400, "invalid_request_error", message, { param });
}

/** The fields without which no OpenAI-compatible server can answer. */
function requireModelAndStream(body: Record<string, unknown>): void {
  if (typeof body.model !== "string" || body.model === "")
    throw invalid("model: must be a non-empty string", "model");
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== "boolean")
    throw invalid("stream: must be a boolean", "stream");
}

/** GPU pools' Chat Completions: the OpenAI wire format, its usage, stream and error shapes. */
export const gpuChat: EndpointSpec<GpuEndpoint> = {
  ...openAIChat,
  endpoint: "chat.completions",
  validate(body) {
    requireModelAndStream(body);
    if (!Array.isArray(body.messages)) throw invalid("messages: must be an array", "messages");
  },
};

/** GPU pools' legacy Completions (vLLM and SGLang serve it): usage is read as Chat Completions'. */
export const gpuCompletions: EndpointSpec<GpuEndpoint> = {
  ...openAIChat,
  endpoint: "completions",
  validate(body) {
    requireModelAndStream(body);
    const p = body.prompt;
    if (typeof p !== "string" && !(Array.isArray(p) && p.length > 0))
      throw invalid("prompt: must be a string or a non-empty array", "prompt");
  },
};

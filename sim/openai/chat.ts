import type { Context } from "hono";
import type { SimDeps, SimEnv } from "../context.ts";
import { invalid } from "../errors.ts";
import { hashOf } from "../hash.ts";
import { isObject, type JsonObject, parseJsonObject } from "../json.ts";
import { sseEvent, sseResponse } from "../sse.ts";
import { textTokens } from "../tokens.ts";
import { renderChat } from "./render.ts";
import { bill, cut, type PromptUsage, parseCap, parseCommon, servePrompt, textOf } from "./request.ts";

const PIECE = 24;

function pieces(s: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += PIECE) out.push(s.slice(i, i + PIECE));
  return out;
}

/** The function a `tool_choice` forces; a named function finishes with "stop", `required` with "tool_calls". */
function forcedFunction(choice: unknown, tools: JsonObject[]): { name: string; finish: string } | undefined {
  if (isObject(choice) && choice.type === "function" && isObject(choice.function)) {
    return { name: String(choice.function.name), finish: "stop" };
  }
  if (choice === "required") {
    const first = tools[0];
    const name = isObject(first?.function) ? String(first.function.name) : "function";
    return { name, finish: "tool_calls" };
  }
  return undefined;
}

/** The `usage` object of a chat completion. */
export function chatUsage(u: PromptUsage, completion: number): JsonObject {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: completion,
    total_tokens: u.promptTokens + completion,
    prompt_tokens_details: {
      cached_tokens: u.cachedTokens,
      audio_tokens: 0,
      ...(u.writeTokens !== undefined ? { cache_write_tokens: u.writeTokens } : {}),
    },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

/** `POST /v1/chat/completions`. */
export function chatCompletions(c: Context<SimEnv>, deps: SimDeps): Response {
  const { opts, ids } = deps;
  const body = parseJsonObject(c.var.body);
  if (!body)
    throw invalid("We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.");
  const common = parseCommon(body, opts);
  if (body.messages === undefined) {
    throw invalid("Missing required parameter: 'messages'.", "messages", "missing_required_parameter");
  }
  if (!Array.isArray(body.messages) || !body.messages.every(isObject)) {
    throw invalid("Invalid type for 'messages': expected an array of objects.", "messages", "invalid_type");
  }
  const messages = body.messages;
  if (messages.length === 0) {
    throw invalid(
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      "messages",
      "empty_array",
    );
  }
  messages.forEach((m, i) => {
    if (typeof m.role !== "string") {
      throw invalid(
        `Missing required parameter: 'messages[${i}].role'.`,
        `messages[${i}].role`,
        "missing_required_parameter",
      );
    }
  });
  if (body.stream_options !== undefined && body.stream_options !== null && !common.stream) {
    throw invalid(
      "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
      "stream_options",
    );
  }
  const cap = parseCap(body, "max_completion_tokens", 1) ?? parseCap(body, "max_tokens", 1);

  const ns = c.var.ns;
  const usage = servePrompt(
    ns,
    renderChat(common.model, messages, common.tools, body.response_format),
    common,
  );
  const users = messages.filter((m) => m.role === "user");
  const forced = forcedFunction(body.tool_choice, common.tools);
  let message: JsonObject;
  let finish: string;
  let completion: number;
  if (forced) {
    const args = "{}";
    const call = {
      id: ids.next("call_", 24),
      type: "function",
      function: { name: forced.name, arguments: args },
    };
    message = { role: "assistant", content: null, tool_calls: [call], refusal: null, annotations: [] };
    finish = forced.finish;
    completion = textTokens(args);
  } else {
    const full = opts.reply({
      provider: "openai",
      model: common.model,
      turn: users.length,
      lastUserText: textOf(users.at(-1)?.content),
    });
    const text = cut(full, cap);
    message = { role: "assistant", content: text, refusal: null, annotations: [] };
    finish = text === full ? "stop" : "length";
    completion = textTokens(text);
  }
  c.var.record.usage = bill(ns, usage, completion);

  const id = ids.next("chatcmpl-", 29);
  const created = Math.floor(ns.now() / 1000);
  const fingerprint = `fp_${hashOf(common.model).slice(0, 10)}`;
  const headers = { "x-request-id": c.var.requestId };
  if (!common.stream) {
    return c.json(
      {
        id,
        object: "chat.completion",
        created,
        model: common.model,
        choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
        usage: chatUsage(usage, completion),
        service_tier: "default",
        system_fingerprint: fingerprint,
      },
      200,
      headers,
    );
  }

  const includeUsage = isObject(body.stream_options) && body.stream_options.include_usage === true;
  const chunk = (choices: JsonObject[], extra: JsonObject = includeUsage ? { usage: null } : {}) =>
    sseEvent(undefined, {
      id,
      object: "chat.completion.chunk",
      created,
      model: common.model,
      service_tier: "default",
      system_fingerprint: fingerprint,
      choices,
      ...extra,
    });
  const choice = (delta: JsonObject, finishReason: string | null = null) => ({
    index: 0,
    delta,
    logprobs: null,
    finish_reason: finishReason,
  });
  const events: string[] = [];
  const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
  const call = isObject(calls[0]) ? calls[0] : undefined;
  if (call && isObject(call.function)) {
    const fn = call.function;
    events.push(
      chunk([
        choice({
          role: "assistant",
          content: null,
          tool_calls: [
            { index: 0, id: call.id, type: "function", function: { name: fn.name, arguments: "" } },
          ],
          refusal: null,
        }),
      ]),
      ...pieces(String(fn.arguments)).map((a) =>
        chunk([choice({ tool_calls: [{ index: 0, function: { arguments: a } }] })]),
      ),
    );
  } else {
    events.push(
      chunk([choice({ role: "assistant", content: "", refusal: null })]),
      ...pieces(String(message.content)).map((t) => chunk([choice({ content: t })])),
    );
  }
  events.push(chunk([choice({}, finish)]));
  if (includeUsage) events.push(chunk([], { usage: chatUsage(usage, completion) }));
  events.push(sseEvent(undefined, "[DONE]"));
  return sseResponse(events, opts.streamDelayMs, headers);
}

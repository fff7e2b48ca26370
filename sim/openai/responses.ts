import type { Context } from "hono";
import type { SimDeps, SimEnv } from "../context.ts";
import { invalid } from "../errors.ts";
import { isObject, type JsonObject, parseJsonObject } from "../json.ts";
import { sseEvent, sseResponse } from "../sse.ts";
import { textTokens } from "../tokens.ts";
import { renderResponses } from "./render.ts";
import { bill, cut, type PromptUsage, parseCap, parseCommon, servePrompt, textOf } from "./request.ts";

const PIECE = 24;

function pieces(s: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += PIECE) out.push(s.slice(i, i + PIECE));
  return out;
}

/** The `usage` object of a response. */
export function responsesUsage(u: PromptUsage, output: number): JsonObject {
  return {
    input_tokens: u.promptTokens,
    input_tokens_details: { cached_tokens: u.cachedTokens, cache_write_tokens: u.writeTokens ?? 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: u.promptTokens + output,
  };
}

function forcedFunction(choice: unknown, tools: JsonObject[]): string | undefined {
  if (isObject(choice) && choice.type === "function" && typeof choice.name === "string") return choice.name;
  if (choice === "required") {
    const fn = tools.find((t) => t.type === "function");
    return typeof fn?.name === "string" ? fn.name : "function";
  }
  return undefined;
}

function userFacts(input: unknown): { turn: number; lastUserText: string } {
  if (typeof input === "string") return { turn: 1, lastUserText: input };
  const users = Array.isArray(input) ? input.filter((i) => isObject(i) && i.role === "user") : [];
  const last = users.at(-1);
  return { turn: users.length, lastUserText: isObject(last) ? textOf(last.content) : "" };
}

/** `POST /v1/responses`. */
export function createResponse(c: Context<SimEnv>, deps: SimDeps): Response {
  const { opts, ids } = deps;
  const body = parseJsonObject(c.var.body);
  if (!body)
    throw invalid("We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.");
  const common = parseCommon(body, opts);
  if (body.previous_response_id !== undefined && body.previous_response_id !== null) {
    throw invalid(
      "The simulator does not keep conversation state: send the whole input instead of previous_response_id.",
      "previous_response_id",
      "unsupported_parameter",
    );
  }
  if (body.input !== undefined && typeof body.input !== "string" && !Array.isArray(body.input)) {
    throw invalid(
      "Invalid type for 'input': expected a string or an array of input items.",
      "input",
      "invalid_type",
    );
  }
  const cap = parseCap(body, "max_output_tokens", 16);
  const ns = c.var.ns;
  const format = isObject(body.text) ? body.text.format : undefined;
  const usage = servePrompt(
    ns,
    renderResponses(common.model, body.instructions, body.input, common.tools, format),
    common,
  );

  const forced = forcedFunction(body.tool_choice, common.tools);
  let item: JsonObject;
  let output: number;
  let complete = true;
  if (forced !== undefined) {
    const args = "{}";
    item = {
      id: ids.next("fc_", 48),
      type: "function_call",
      status: "completed",
      arguments: args,
      call_id: ids.next("call_", 24),
      name: forced,
    };
    output = textTokens(args);
  } else {
    const full = opts.reply({ provider: "openai", model: common.model, ...userFacts(body.input) });
    const text = cut(full, cap);
    complete = text === full;
    item = {
      id: ids.next("msg_", 48),
      type: "message",
      status: complete ? "completed" : "incomplete",
      content: [{ type: "output_text", annotations: [], logprobs: [], text }],
      role: "assistant",
    };
    output = textTokens(text);
  }
  c.var.record.usage = bill(ns, usage, output);

  const id = ids.next("resp_", 48);
  const createdAt = Math.floor(ns.now() / 1000);
  const responseObject = (status: string, out: JsonObject[], u: JsonObject | null): JsonObject => ({
    id,
    object: "response",
    created_at: createdAt,
    status,
    background: false,
    completed_at: status === "in_progress" ? null : createdAt,
    error: null,
    incomplete_details: status === "incomplete" ? { reason: "max_output_tokens" } : null,
    instructions: body.instructions ?? null,
    max_output_tokens: cap ?? null,
    model: common.model,
    output: out,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: null,
    prompt_cache_key: common.promptCacheKey ?? null,
    prompt_cache_retention: common.retention,
    reasoning: { effort: null, summary: null },
    service_tier: "default",
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: { format: { type: "text" } },
    tool_choice: body.tool_choice ?? "auto",
    tools: common.tools,
    top_p: body.top_p ?? 1,
    truncation: "disabled",
    usage: u,
    user: null,
    metadata: body.metadata ?? {},
  });
  const finalStatus = complete ? "completed" : "incomplete";
  const final = responseObject(finalStatus, [item], responsesUsage(usage, output));
  const headers = { "x-request-id": c.var.requestId };
  if (!common.stream) return c.json(final, 200, headers);

  let seq = 0;
  const ev = (type: string, data: JsonObject) => sseEvent(type, { type, sequence_number: seq++, ...data });
  const events = [
    ev("response.created", { response: responseObject("in_progress", [], null) }),
    ev("response.in_progress", { response: responseObject("in_progress", [], null) }),
  ];
  const itemId = String(item.id);
  if (item.type === "function_call") {
    events.push(
      ev("response.output_item.added", {
        output_index: 0,
        item: { ...item, status: "in_progress", arguments: "" },
      }),
      ...pieces(String(item.arguments)).map((delta) =>
        ev("response.function_call_arguments.delta", { item_id: itemId, output_index: 0, delta }),
      ),
      ev("response.function_call_arguments.done", {
        item_id: itemId,
        output_index: 0,
        name: item.name,
        arguments: item.arguments,
      }),
    );
  } else {
    const part = Array.isArray(item.content) && isObject(item.content[0]) ? item.content[0] : {};
    const text = String(part.text ?? "");
    const at = { item_id: itemId, output_index: 0, content_index: 0 };
    events.push(
      ev("response.output_item.added", {
        output_index: 0,
        item: { ...item, status: "in_progress", content: [] },
      }),
      ev("response.content_part.added", { ...at, part: { ...part, text: "" } }),
      ...pieces(text).map((delta) => ev("response.output_text.delta", { ...at, delta, logprobs: [] })),
      ev("response.output_text.done", { ...at, text, logprobs: [] }),
      ev("response.content_part.done", { ...at, part }),
    );
  }
  events.push(
    ev("response.output_item.done", { output_index: 0, item }),
    ev(complete ? "response.completed" : "response.incomplete", { response: final }),
  );
  return sseResponse(events, opts.streamDelayMs, headers);
}

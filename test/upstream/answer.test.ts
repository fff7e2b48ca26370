import type { EventSourceMessage } from "eventsource-parser";
import { describe, expect, it } from "vitest";
import {
  anthropicAnswerEnd,
  openAIChatJsonAnswerEnd,
  openAIResponsesAnswerEnd,
} from "../../src/upstream/answer.ts";
import { converseStreamWatcher, invokeStreamWatcher } from "../../src/upstream/bedrock.ts";
import { anthropicWatcher, openAIChatWatcher, openAIResponsesWatcher } from "../../src/upstream/watchers.ts";

// How an answer ended (issue #14: the answer's stop reason is a signal keepalive reads): a tool call the client
// runs and answers, or a reply a person reads; unknown where the answer does not say.

const ev = (data: unknown, event?: string): EventSourceMessage => ({
  event,
  data: typeof data === "string" ? data : JSON.stringify(data),
  id: undefined,
});

describe("a JSON answer's end", () => {
  it("Anthropic: tool_use and pause_turn call the client back, every other stop reason is a reply", () => {
    expect(anthropicAnswerEnd("tool_use")).toBe("tool");
    expect(anthropicAnswerEnd("pause_turn")).toBe("tool");
    expect(anthropicAnswerEnd("compaction")).toBe("tool");
    for (const r of ["end_turn", "max_tokens", "stop_sequence", "refusal"])
      expect(anthropicAnswerEnd(r)).toBe("reply");
    for (const r of [null, undefined, "", 3]) expect(anthropicAnswerEnd(r)).toBeNull();
  });

  it("OpenAI Chat: tool calls in the message, whatever the finish reason (a named function finishes with stop)", () => {
    const call = { id: "call_1", type: "function", function: { name: "lookup", arguments: "{}" } };
    expect(
      openAIChatJsonAnswerEnd({
        choices: [
          { message: { role: "assistant", content: null, tool_calls: [call] }, finish_reason: "stop" },
        ],
      }),
    ).toBe("tool");
    expect(
      openAIChatJsonAnswerEnd({ choices: [{ message: { content: "hi" }, finish_reason: "tool_calls" }] }),
    ).toBe("tool");
    expect(
      openAIChatJsonAnswerEnd({ choices: [{ message: { content: "hi" }, finish_reason: "stop" }] }),
    ).toBe("reply");
    expect(openAIChatJsonAnswerEnd({ choices: [] })).toBeNull();
    expect(openAIChatJsonAnswerEnd({ choices: "x" })).toBeNull();
  });

  it("OpenAI Responses: a completed response with a call the client runs; server tools and incomplete ones are not", () => {
    const done = (output: unknown[]) => ({ status: "completed", output });
    expect(
      openAIResponsesAnswerEnd(done([{ type: "reasoning" }, { type: "function_call", name: "f" }])),
    ).toBe("tool");
    expect(openAIResponsesAnswerEnd(done([{ type: "web_search_call" }, { type: "message" }]))).toBe("reply");
    // Coding agents' calls: a patch the client applies, a shell command in its own environment, a tool search
    // it runs; the same kinds run by the server are not the client's.
    expect(openAIResponsesAnswerEnd(done([{ type: "apply_patch_call" }]))).toBe("tool");
    expect(openAIResponsesAnswerEnd(done([{ type: "shell_call", environment: { type: "local" } }]))).toBe(
      "tool",
    );
    expect(
      openAIResponsesAnswerEnd(done([{ type: "shell_call", environment: { type: "container_reference" } }])),
    ).toBe("reply");
    expect(openAIResponsesAnswerEnd(done([{ type: "tool_search_call", execution: "client" }]))).toBe("tool");
    expect(openAIResponsesAnswerEnd(done([{ type: "tool_search_call", execution: "server" }]))).toBe("reply");
    expect(
      openAIResponsesAnswerEnd({ status: "incomplete", output: [{ type: "function_call" }] }),
    ).toBeNull();
    expect(openAIResponsesAnswerEnd(null)).toBeNull();
  });
});

describe("a stream's end, read on the side", () => {
  it("Anthropic: message_delta's stop_reason", () => {
    const w = anthropicWatcher();
    w.onEvent(
      ev({ type: "message_start", message: { id: "msg_1", usage: { input_tokens: 5 } } }, "message_start"),
    );
    expect(w.answer?.()).toBeNull();
    w.onEvent(
      ev(
        { type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { output_tokens: 9 } },
        "message_delta",
      ),
    );
    w.onEvent(ev({ type: "message_stop" }, "message_stop"));
    expect(w.answer?.()).toBe("tool");
    expect(w.usage()?.inputTokens).toBe(5);
  });

  it("OpenAI Chat: a tool call's delta or the last chunk's finish reason, not text that quotes them", () => {
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
      ev({ object: "chat.completion.chunk", choices: [{ index: 0, delta, finish_reason: finish }] });
    const text = openAIChatWatcher();
    text.onEvent(chunk({ content: 'the field "finish_reason":"tool_calls" and "tool_calls":[ are JSON' }));
    expect(text.answer?.()).toBeNull();
    text.onEvent(chunk({}, "stop"));
    expect(text.answer?.()).toBe("reply");

    // vLLM puts an empty `tool_calls` on every content delta: a reply still.
    const empty = openAIChatWatcher();
    empty.onEvent(chunk({ content: "Hello", tool_calls: [] }));
    empty.onEvent(chunk({}, "stop"));
    expect(empty.answer?.()).toBe("reply");

    const named = openAIChatWatcher();
    named.onEvent(
      chunk({ tool_calls: [{ index: 0, id: "call_1", function: { name: "f", arguments: "" } }] }),
    );
    named.onEvent(chunk({}, "stop"));
    named.onEvent(ev("[DONE]"));
    expect(named.answer?.()).toBe("tool");
  });

  it("OpenAI Responses: the terminal event's response", () => {
    const w = openAIResponsesWatcher();
    w.onEvent(
      ev({ type: "response.created", response: { status: "in_progress", output: [] } }, "response.created"),
    );
    expect(w.answer?.()).toBeNull();
    w.onEvent(
      ev(
        {
          type: "response.completed",
          response: { status: "completed", output: [{ type: "function_call" }] },
        },
        "response.completed",
      ),
    );
    expect(w.answer?.()).toBe("tool");
  });
});

describe("a Bedrock event stream's end", () => {
  const enc = new TextEncoder();
  const msg = (type: string, payload: unknown) => ({
    messageType: "event",
    type,
    payload: enc.encode(JSON.stringify(payload)),
  });

  it("InvokeModelWithResponseStream: the Anthropic events inside its chunks", () => {
    const w = invokeStreamWatcher();
    const chunk = (event: unknown) => msg("chunk", { bytes: btoa(JSON.stringify(event)) });
    w.onMessage(chunk({ type: "message_start", message: { usage: { input_tokens: 3 } } }));
    expect(w.answer()).toBeNull();
    w.onMessage(
      chunk({ type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { output_tokens: 4 } }),
    );
    expect(w.answer()).toBe("tool");
  });

  it("ConverseStream: messageStop's stopReason", () => {
    const w = converseStreamWatcher();
    w.onMessage(msg("messageStart", { role: "assistant" }));
    expect(w.answer()).toBeNull();
    w.onMessage(msg("messageStop", { stopReason: "end_turn" }));
    w.onMessage(msg("metadata", { usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 } }));
    expect(w.answer()).toBe("reply");
    expect(w.finished).toBe(true);
  });
});

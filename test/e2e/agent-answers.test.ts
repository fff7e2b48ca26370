import { runInDurableObject } from "cloudflare:test";
import type Anthropic from "@anthropic-ai/sdk";
import type OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { decodeFamily } from "../../src/decide/gaps.ts";
import { anthropic, longText, namespace, openai } from "../support/clients.ts";
import { recordRequest } from "../support/records.ts";
import { freshTenant } from "../support/tenants.ts";
import { totalsAfter, tracker } from "../support/tracker.ts";

// How each answer ended (issue #14: the answer's stop reason) reaches the tenant's tracker from the official
// SDKs' own requests, JSON and streamed: the conversation keeps it, and keepalive reads the family's table for
// answers that ended alike (test/tracker/learning.test.ts shows what that changes).

const SYSTEM = `You are a coding agent.\n${longText(2000, "agent")}`;

/** How the tenant's conversations' latest answers ended (heads' rows excluded). */
async function answers(tenantId: string): Promise<(string | null)[]> {
  return runInDurableObject(tracker(tenantId), (_o, state) =>
    state.storage.sql
      .exec<{ answer: string | null }>(
        "SELECT answer FROM conversations WHERE conversation NOT LIKE '~head:%' ORDER BY rowid",
      )
      .toArray()
      .map((r) => r.answer),
  );
}

describe("the answer's end reaches the tracker", () => {
  it("Anthropic: a tool call (JSON), then the reply to its result (streamed)", async () => {
    const t = freshTenant();
    const client = anthropic(namespace(), { apiKey: t.key });
    const tools: Anthropic.Tool[] = [
      {
        name: "run_tests",
        description: "Runs the test suite.",
        input_schema: { type: "object", properties: {} },
      },
    ];
    const messages: Anthropic.MessageParam[] = [{ role: "user", content: "Fix the failing test." }];
    const call = await client.messages.create({
      model: "claude-sonnet-4-6",
      max_tokens: 64,
      system: SYSTEM,
      tools,
      tool_choice: { type: "tool", name: "run_tests" },
      messages,
    });
    expect(call.stop_reason).toBe("tool_use");
    await totalsAfter(t.id, 1);
    expect(await answers(t.id)).toEqual(["tool"]);

    const use = call.content.find((b) => b.type === "tool_use");
    expect(use).toBeDefined();
    messages.push(
      { role: "assistant", content: call.content },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: (use as Anthropic.ToolUseBlock).id, content: "1 failed" },
        ],
      },
    );
    const reply = await client.messages
      .stream({ model: "claude-sonnet-4-6", max_tokens: 64, system: SYSTEM, tools, messages })
      .finalMessage();
    expect(reply.stop_reason).toBe("end_turn");
    await totalsAfter(t.id, 2);
    // tool_choice is part of the prompt's parameters: the follow-up without it is a conversation of its own.
    expect(await answers(t.id)).toEqual(["tool", "reply"]);
  });

  it("OpenAI Chat: a function named in tool_choice (finish_reason stop, streamed) is a tool call; a reply is not", async () => {
    const t = freshTenant();
    const client = openai(namespace(), { apiKey: t.key });
    const tools: OpenAI.ChatCompletionTool[] = [
      { type: "function", function: { name: "lookup", parameters: { type: "object", properties: {} } } },
    ];
    const stream = await client.chat.completions.create({
      model: "gpt-5",
      messages: [
        { role: "system", content: SYSTEM },
        { role: "user", content: "Find the order." },
      ],
      tools,
      tool_choice: { type: "function", function: { name: "lookup" } },
      stream: true,
    });
    let finish: string | null = null;
    let called = false;
    for await (const chunk of stream) {
      finish = chunk.choices[0]?.finish_reason ?? finish;
      called ||= (chunk.choices[0]?.delta.tool_calls?.length ?? 0) > 0;
    }
    expect({ finish, called }).toEqual({ finish: "stop", called: true });
    await totalsAfter(t.id, 1);
    expect(await answers(t.id)).toEqual(["tool"]);

    await client.chat.completions.create({
      model: "gpt-5",
      messages: [
        { role: "system", content: SYSTEM },
        { role: "user", content: "Something else: say hello." },
      ],
    });
    await totalsAfter(t.id, 2);
    expect((await answers(t.id)).sort()).toEqual(["reply", "tool"]);
  });
});

describe("the tracker keeps a conversation's latest answer", () => {
  const NOW = Date.UTC(2026, 11, 3, 12);
  const FAMILY = "family-answers-aaaaaaaa";
  const record = (tenantId: string, i: number, answer: unknown) =>
    recordRequest({
      tenantId,
      requestId: `req_answers_${tenantId}_${i}`,
      at: NOW + i * 60_000,
      family: FAMILY,
      conversation: "conversation-answers-a",
      positions: [{ hash: `position-answers-${i}-aaaa`, tokens: 2000, breakpoint: null }],
      answer,
    } as Parameters<typeof recordRequest>[0]);

  it("replaces it each turn, and the gap after a tool call teaches the family's tool table once its window closes", async () => {
    const t = freshTenant();
    const stub = tracker(t.id);
    await stub.record(record(t.id, 0, "tool"));
    await stub.record(record(t.id, 1, "reply"));
    const read = () =>
      runInDurableObject(stub, (_o, state) => {
        const table = (name: string) =>
          decodeFamily(
            state.storage.sql
              .exec<{ survival: ArrayBuffer }>("SELECT survival FROM family_gaps WHERE family = ?", name)
              .toArray()[0]?.survival ?? null,
          );
        return {
          row: state.storage.sql
            .exec("SELECT turns, answer FROM conversations WHERE conversation = 'conversation-answers-a'")
            .one(),
          tool: table(`${FAMILY}~tool`).returns[0],
          family: table(FAMILY).returns[0],
          pending: state.storage.sql.exec("SELECT COUNT(*) AS n FROM pending_returns").one().n,
        };
      });
    // The return a minute after the tool call waits until its window closes (5 minutes after the call).
    expect(await read()).toEqual({ row: { turns: 2, answer: "reply" }, tool: 0, family: 0, pending: 3 });
    // Another conversation's record after that runs the sweep, which counts it.
    await stub.record({ ...record(t.id, 6, null), conversation: "conversation-answers-b" });
    expect(await read()).toEqual({ row: { turns: 2, answer: "reply" }, tool: 1, family: 1, pending: 0 });
  });

  it("drops an answer it does not know and keeps the record", async () => {
    const t = freshTenant();
    const stub = tracker(t.id);
    for (const [i, bad] of ["tools", 5, { end: "tool" }].entries()) {
      const r = await stub.record(record(t.id, i, bad));
      expect(r.ok && r.value.counted).toBe(true);
    }
    expect(await answers(t.id)).toEqual([null]);
  });
});

import Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { anthropic, longText, namespace, openai, simRequests, simStats } from "../support/clients.ts";
import { keepaliveRows } from "../support/keepalive.ts";
import { freshTenant } from "../support/tenants.ts";
import { totalsAfter } from "../support/tracker.ts";

// Requests whose body is only part of the prompt: the provider holds the rest (docs/server-state.md).
const MODEL = "claude-sonnet-4-6";
const BETA = { headers: { "anthropic-beta": "message-threads-2026-08-12" } };

describe("Anthropic Threads through Stoker", () => {
  it("forwards thread turns as sent, accounts them exactly, and never keeps them for pings", async () => {
    const ns = namespace();
    const t = freshTenant();
    const client = anthropic(ns, { apiKey: t.key });
    const create = {
      model: MODEL,
      max_tokens: 32,
      system: longText(3000, "rules"),
      thread: { type: "create" as const },
      messages: [{ role: "user" as const, content: "First question" }],
    };
    const first = await client.beta.messages.create(create, BETA);
    const second = await client.beta.messages.create(
      {
        model: MODEL,
        max_tokens: 32,
        thread: { type: "continue", previous_message_id: first.id },
        messages: [{ role: "user", content: "Second question" }],
      },
      BETA,
    );
    // The server holds the conversation: the continue read it.
    expect(second.usage.cache_read_input_tokens ?? 0).toBeGreaterThan(3000);

    // Stoker added nothing (a thread takes no cache_control) and forwarded the client's bytes.
    const sent = await simRequests(ns);
    expect(sent).toHaveLength(2);
    for (const r of sent) expect(r.body).not.toContain("cache_control");
    expect(JSON.parse(sent[1]?.body ?? "{}").thread).toEqual({
      type: "continue",
      previous_message_id: first.id,
    });

    // Each response continues once; the provider's error reaches the client as the SDK knows it.
    const again = await client.beta.messages
      .create(
        {
          model: MODEL,
          max_tokens: 32,
          thread: { type: "continue", previous_message_id: first.id },
          messages: [{ role: "user", content: "A fork" }],
        },
        BETA,
      )
      .catch((e: unknown) => e);
    expect(again).toBeInstanceOf(Anthropic.APIError);
    expect((again as { status?: number }).status).toBe(400);
    expect((again as { errorCode?: string }).errorCode).toBe("thread_already_continued");

    const totals = await totalsAfter(t.id, 2);
    const billed = (await simStats(ns)).anthropic;
    expect(totals.uncachedTokens).toBe(billed.uncached_input_tokens);
    expect(totals.cacheReadTokens).toBe(billed.cache_read_input_tokens);
    expect(totals.cacheWrite5mTokens).toBe(billed.cache_write_5m_input_tokens);
    expect(totals.outputTokens).toBe(billed.output_tokens);
    expect(await keepaliveRows(t.id)).toEqual([]);
  });
});

describe("OpenAI Responses with server-held state through Stoker", () => {
  it.each([
    ["previous_response_id", "resp_0123"],
    ["conversation", "conv_0123"],
  ])("forwards a request with %s unplanned", async (field, value) => {
    const ns = namespace();
    // Pass-through: under the deploy's shared key these ids must be ones Stoker returned to the tenant
    // (test/hardening/stored-ids.test.ts); here the question is only whether the body is planned.
    const client = openai(ns, {
      apiKey: "sk-openai-clients-own",
      headers: { "x-stoker-key": freshTenant().key },
    });
    const body = { model: "gpt-5.1", input: `Only the new turn: ${longText(1500, "turn")}`, [field]: value };
    await client.responses.create(body as never).catch(() => null);
    const [sent] = await simRequests(ns);
    // No prompt_cache_key, no retention: the body's chain is not the prompt's.
    expect(JSON.parse(sent?.body ?? "{}")).toEqual(body);
  });
});

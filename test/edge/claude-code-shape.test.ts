import { describe, expect, it } from "vitest";
import { longText, namespace, STOKER, simRequests, workerFetch } from "../support/clients.ts";
import { TEST_TENANTS } from "../support/tenants.ts";

const BETAS =
  "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14,context-management-2025-06-27";

/** A request shaped like the ones Claude Code sends (print mode): 14 tools, system blocks with its own breakpoints. */
function claudeCodeBody(messages: unknown[]) {
  const tools = Array.from({ length: 14 }, (_, i) => ({
    name: `Tool${i}`,
    description: `${longText(60, `tool${i}`)}`,
    input_schema: {
      type: "object",
      properties: { path: { type: "string", description: "A path" }, limit: { type: "number" } },
      required: ["path"],
      additionalProperties: false,
      $schema: "http://json-schema.org/draft-07/schema#",
    },
  }));
  return {
    model: "claude-sonnet-4-6",
    max_tokens: 32000,
    stream: true,
    thinking: { type: "enabled", budget_tokens: 4000 },
    metadata: { user_id: "user_abc_account__session_123" },
    system: [
      {
        type: "text",
        text: "You are Claude Code, Anthropic's official CLI for Claude.",
        cache_control: { type: "ephemeral" },
      },
      { type: "text", text: longText(2500, "instructions"), cache_control: { type: "ephemeral" } },
    ],
    tools,
    messages,
  };
}

async function send(ns: string, body: unknown) {
  const res = await workerFetch(`${STOKER}/anthropic/v1/messages?beta=true`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      "anthropic-beta": BETAS,
      "anthropic-dangerous-direct-browser-access": "true",
      "x-app": "cli",
      "user-agent": "claude-cli/2.1.0 (external, cli)",
      "x-api-key": TEST_TENANTS.alpha,
      "x-sim-namespace": ns,
    },
    body: JSON.stringify(body),
  });
  return { res, text: await res.text() };
}

function usageOf(sse: string) {
  const start = sse.split("\n").find((l) => l.startsWith("data: ") && l.includes('"message_start"'));
  return JSON.parse(start?.slice(6) ?? "{}").message.usage as Record<string, number>;
}

describe("a Claude Code-shaped request", () => {
  it("passes query string, betas, metadata, thinking and the client's breakpoints through", async () => {
    const ns = namespace();
    const body = claudeCodeBody([
      {
        role: "user",
        content: [{ type: "text", text: "List the files", cache_control: { type: "ephemeral" } }],
      },
    ]);
    const { res, text } = await send(ns, body);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    expect(text).toContain("event: message_stop");
    const [req] = await simRequests(ns);
    expect(req?.query).toEqual({ beta: "true" });
    expect(req?.headers["anthropic-beta"]).toBe(BETAS);
    expect(req?.headers["x-app"]).toBe("cli");
    const sent = JSON.parse(req?.body ?? "{}");
    expect(sent.metadata).toEqual(body.metadata);
    expect(sent.thinking).toEqual(body.thinking);
    // The client's own breakpoints arrive byte for byte; Stoker may add its own elsewhere.
    for (const block of body.system) expect(req?.body).toContain(JSON.stringify(block));
    expect(sent.system).toEqual(body.system);
    expect(sent.messages[0].content[0].cache_control).toEqual({ type: "ephemeral" });
    // Tools are a set: canonicalization may order them by name and sort schema keys; Stoker may mark one.
    const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
    const unmarked = sent.tools.map(({ cache_control: _, ...tool }: Record<string, unknown>) => tool);
    expect(unmarked.sort(byName)).toEqual([...body.tools].sort(byName));
  });

  it("reads the cache on the second turn", async () => {
    const ns = namespace();
    const turn1 = [
      {
        role: "user",
        content: [{ type: "text", text: "List the files", cache_control: { type: "ephemeral" } }],
      },
    ];
    const first = await send(ns, claudeCodeBody(turn1));
    const firstUsage = usageOf(first.text);
    const turn2 = [
      { role: "user", content: [{ type: "text", text: "List the files" }] },
      { role: "assistant", content: [{ type: "text", text: "a.ts b.ts" }] },
      { role: "user", content: [{ type: "text", text: "Open a.ts", cache_control: { type: "ephemeral" } }] },
    ];
    const second = await send(ns, claudeCodeBody(turn2));
    const secondUsage = usageOf(second.text);
    expect(firstUsage.cache_creation_input_tokens).toBeGreaterThan(0);
    expect(secondUsage.cache_read_input_tokens).toBeGreaterThan(0);
  });
});

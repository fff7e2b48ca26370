// The isolate's memos on the worker's own path (issue 19): a conversation's later turn, sent by the official
// SDK through the worker, is read after its last turn's body and analyzed from its checkpoint.
import { describe, expect, it } from "vitest";
import { analysisMemoSize, clearAnalysisMemo } from "../../src/edge/analysis-memo.ts";
import { bodyMemoSize, clearBodyMemo } from "../../src/edge/body-memo.ts";
import { anthropic, longText, namespace, simRequests } from "../support/clients.ts";
import { eventually } from "../support/tracker.ts";

describe("the memos on the worker's path", () => {
  it("keep a turn's body after it has gone upstream and read the next turn after it", async () => {
    clearBodyMemo();
    clearAnalysisMemo();
    const ns = namespace();
    const client = anthropic(ns);
    // Long enough (over SPLIT_MIN_CHARS) that the next turn's text is read in two parts.
    const system = longText(40_000, "memo");
    const messages: { role: "user" | "assistant"; content: string }[] = [{ role: "user", content: "Hello." }];
    const first = await client.messages.create({
      model: "claude-sonnet-4-5",
      max_tokens: 16,
      system,
      messages,
    });
    // Kept off the request path, once the request has gone upstream.
    await eventually(
      async () => bodyMemoSize().bodies,
      (n) => n === 1,
    );
    expect(analysisMemoSize().checkpoints).toBeGreaterThan(0);
    messages.push({
      role: "assistant",
      content: first.content.map((b) => (b.type === "text" ? b.text : "")).join(""),
    });
    messages.push({ role: "user", content: "And then?" });
    const second = await client.messages
      .create({ model: "claude-sonnet-4-5", max_tokens: 16, system, messages })
      .withResponse();
    expect(second.response.status).toBe(200);
    // Read after the first (kept at once, on the request path): two bodies, the first not laid out again.
    expect(bodyMemoSize().bodies).toBe(2);
    expect(second.response.headers.get("x-stoker-plan")).toMatch(/^anthropic /);
    // Rendered from the text in two parts (the first turn's and the rest, never joined on the way): what went
    // upstream is the client's conversation, whole, with the plan's markers.
    const sent = JSON.parse((await simRequests(ns)).at(-1)?.body ?? "null") as {
      system: unknown;
      messages: {
        role: string;
        content: string | { type: string; text: string; cache_control?: unknown }[];
      }[];
    };
    const text = (c: (typeof sent.messages)[number]["content"]) =>
      typeof c === "string" ? c : c.map((b) => b.text).join("");
    expect(sent.messages.map((m) => ({ role: m.role, content: text(m.content) }))).toEqual(messages);
    expect(JSON.stringify(sent.system)).toContain(system.slice(-200));
    expect(JSON.stringify(sent.messages.at(-1))).toContain("cache_control");
  });

  it("send a new conversation of the family, read after the kept body's tools and system, as the client wrote it", async () => {
    clearBodyMemo();
    clearAnalysisMemo();
    const ns = namespace();
    const client = anthropic(ns);
    // Long enough (over SPLIT_MIN_CHARS) that the render reads the text in two parts, cut where `messages` opens.
    const system = longText(40_000, "family");
    const tools = [
      { name: "run", description: "Runs a command.", input_schema: { type: "object" as const } },
    ];
    const ask = (content: string) =>
      client.messages
        .create({
          model: "claude-sonnet-4-5",
          max_tokens: 16,
          tools,
          system,
          messages: [{ role: "user", content }],
        })
        .withResponse();
    await ask("First conversation.");
    await eventually(
      async () => bodyMemoSize().bodies,
      (n) => n === 1,
    );
    const other = "Another conversation, «é» 🔥.";
    const second = await ask(other);
    expect(second.response.status).toBe(200);
    expect(bodyMemoSize().bodies).toBe(2);
    // Read after the first through where `messages` opens (body-memo.ts) and rendered from the text in two
    // parts cut there: what went upstream is the client's request, whole.
    const sent = JSON.parse((await simRequests(ns)).at(-1)?.body ?? "null") as {
      tools: { name: string }[];
      system: string | { text: string }[];
      messages: { role: string; content: string | { text: string }[] }[];
    };
    const textOf = (c: string | { text: string }[]) =>
      typeof c === "string" ? c : c.map((b) => b.text).join("");
    expect(sent.tools.map((t) => t.name)).toEqual(["run"]);
    expect(textOf(sent.system)).toBe(system);
    expect(sent.messages.map((m) => ({ role: m.role, text: textOf(m.content) }))).toEqual([
      { role: "user", text: other },
    ]);
    expect(second.response.headers.get("x-stoker-plan")).toMatch(/^anthropic /);
  });
});

// The isolate's memos on the worker's own path (issue 19): a conversation's later turn, sent by the official
// SDK through the worker, is read after its last turn's body and analyzed from its checkpoint.
import { describe, expect, it } from "vitest";
import { analysisMemoSize, clearAnalysisMemo } from "../../src/edge/analysis-memo.ts";
import { bodyMemoSize, clearBodyMemo } from "../../src/edge/body-memo.ts";
import { anthropic, longText, namespace } from "../support/clients.ts";
import { eventually } from "../support/tracker.ts";

describe("the memos on the worker's path", () => {
  it("keep a turn's body after it has gone upstream and read the next turn after it", async () => {
    clearBodyMemo();
    clearAnalysisMemo();
    const client = anthropic(namespace());
    const system = longText(6000, "memo");
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
  });
});

import { describe, expect, it } from "vitest";
import { freshNs, type Json, simulator, text } from "../support/sim.ts";
import { anthropicHeaders, usageOf } from "../support/sim-anthropic.ts";

// platform.claude.com/docs/en/build-with-claude/prompt-caching, "What invalidates the cache": images
// ("Adding or removing images anywhere in the prompt"), tool_choice and thinking parameters invalidate
// the messages level and keep the tools and system levels.
const MODEL = "claude-sonnet-4-5";
const SYSTEM = text(1200, "sys");
const HISTORY = text(1500, "history");
const IMAGE = { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } };

function request(lastContent: Json[], extra: Json = {}) {
  return {
    model: MODEL,
    max_tokens: 10,
    system: [{ type: "text", text: SYSTEM, cache_control: { type: "ephemeral" } }],
    messages: [
      { role: "user", content: [{ type: "text", text: HISTORY, cache_control: { type: "ephemeral" } }] },
      { role: "assistant", content: "ok" },
      { role: "user", content: lastContent },
    ],
    ...extra,
  };
}

async function secondTurn(first: Json, second: Json) {
  const sim = simulator();
  const h = anthropicHeaders(freshNs());
  await sim.postJson("/anthropic/v1/messages", first, h);
  return usageOf((await sim.postJson("/anthropic/v1/messages", second, h)).json);
}

const question = [{ type: "text", text: "What now?" }];
const withImage = [IMAGE, { type: "text", text: "What now?" }];

describe("what invalidates the messages level", () => {
  it("keeps the history when nothing before it changes", async () => {
    expect(await secondTurn(request(question), request(question))).toMatchObject({ read: 2700, write: 0 });
  });

  it("drops the history, keeping the system, when an image is added after it", async () => {
    expect(await secondTurn(request(question), request(withImage))).toMatchObject({
      read: 1200,
      write: 1500,
    });
  });

  it("drops the history when the image is removed again", async () => {
    expect(await secondTurn(request(withImage), request(question))).toMatchObject({
      read: 1200,
      write: 1500,
    });
  });

  it("counts an image inside a tool_result", async () => {
    const toolResult = [{ type: "tool_result", tool_use_id: "toolu_1", content: [IMAGE] }];
    const first = request(question);
    const second = request(question);
    second.messages.splice(1, 2, {
      role: "assistant",
      content: [{ type: "tool_use", id: "toolu_1", name: "look", input: {} }],
    });
    second.messages.push({ role: "user", content: toolResult });
    expect(await secondTurn(first, second)).toMatchObject({ read: 1200, write: 1500 });
  });

  it("keeps the history when a second image joins a prompt that already had one", async () => {
    const twoImages = [IMAGE, IMAGE, { type: "text", text: "And this?" }];
    expect(await secondTurn(request(withImage), request(twoImages))).toMatchObject({ read: 2700, write: 0 });
  });

  it("drops the history when tool_choice changes", async () => {
    const tools = [{ name: "look", description: "d", input_schema: { type: "object" } }];
    const first = request(question, { tools, tool_choice: { type: "auto" } });
    const second = request(question, { tools, tool_choice: { type: "none" } });
    // The read is the tool (17 tokens) and the system.
    expect(await secondTurn(first, second)).toMatchObject({ read: 1217, write: 1500 });
  });
});

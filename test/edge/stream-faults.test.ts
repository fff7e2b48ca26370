import { describe, expect, it } from "vitest";
import { anthropic, namespace, openai, simFault } from "../support/clients.ts";

const MODEL = "claude-sonnet-4-6";

describe("a stream the upstream breaks reaches the client as an error, not a silent truncation", () => {
  it.each([
    ["ends early", { truncate_after_events: 3 }],
    ["is reset", { reset_after_events: 3 }],
  ])("Anthropic stream that %s", async (_name, fault) => {
    const ns = namespace();
    await simFault(ns, { count: 1, ...fault });
    const stream = anthropic(ns).messages.stream({
      model: MODEL,
      max_tokens: 64,
      messages: [{ role: "user", content: "Tell me a long story" }],
    });
    await expect(stream.finalMessage()).rejects.toThrow(/upstream stream/);
  });

  it("OpenAI chat stream that ends early", async () => {
    const ns = namespace();
    await simFault(ns, { count: 1, truncate_after_events: 2 });
    const run = async () => {
      const stream = await openai(ns).chat.completions.create({
        model: "gpt-4o-mini",
        stream: true,
        messages: [{ role: "user", content: "Tell me a long story" }],
      });
      for await (const _ of stream) {
        // drain
      }
    };
    await expect(run()).rejects.toThrow(/upstream stream/);
  });

  it("an intact stream raises nothing", async () => {
    const ns = namespace();
    const stream = anthropic(ns).messages.stream({
      model: MODEL,
      max_tokens: 64,
      messages: [{ role: "user", content: "Hi" }],
    });
    await expect(stream.finalMessage()).resolves.toBeTruthy();
  });
});

import { describe, expect, it } from "vitest";
import { requestStreamUsage } from "../../src/upstream/openai-stream-usage.ts";

const asked = (raw: string) => {
  const out = requestStreamUsage(raw, JSON.parse(raw));
  return { out, parsed: JSON.parse(out) };
};

describe("requestStreamUsage edits the forwarded bytes", () => {
  it("adds stream_options when the client sent none", () => {
    const { parsed } = asked('{"model":"m","stream":true,"prompt_cache_key":"stk-a"}');
    expect(parsed).toEqual({
      stream_options: { include_usage: true },
      model: "m",
      stream: true,
      prompt_cache_key: "stk-a",
    });
  });

  it("adds include_usage inside the client's stream_options, leaving every other byte", () => {
    const raw =
      '{"model":"m", "stream_options" : { "include_obfuscation" : false } ,"prompt_cache_key":"stk-a"}';
    const { out, parsed } = asked(raw);
    expect(out).toBe(
      '{"model":"m", "stream_options" : { "include_obfuscation" : false ,"include_usage":true} ,"prompt_cache_key":"stk-a"}',
    );
    expect(parsed.stream_options).toEqual({ include_obfuscation: false, include_usage: true });
  });

  it("sets include_usage false, null or duplicated to true, and fills an empty or null stream_options", () => {
    expect(asked('{"stream_options":{"include_usage":false},"x":1}').parsed).toEqual({
      stream_options: { include_usage: true },
      x: 1,
    });
    expect(asked('{"stream_options":{"include_usage":null,"include_usage":false}}').parsed).toEqual({
      stream_options: { include_usage: true },
    });
    expect(asked('{"stream_options":{},"x":1}').parsed.stream_options).toEqual({ include_usage: true });
    expect(asked('{"stream_options":null,"x":1}').parsed).toEqual({
      stream_options: { include_usage: true },
      x: 1,
    });
  });
});

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { parseCompatUpstreams } from "../src/core/compat-config.ts";
import { COMPAT_PRESETS } from "../src/core/compat-presets.ts";
import { ConfigError } from "../src/core/errors.ts";
import { compatModelInfo } from "../src/economics/compat.ts";
import { costOfUsage } from "../src/economics/cost.ts";
import worker from "../src/index.ts";
import { compatUsage } from "../src/upstream/compat.ts";
import { TEST_TENANTS } from "./support/tenants.ts";

describe("COMPAT_UPSTREAMS is parsed once, strictly", () => {
  it("takes a preset's facts and merges the entry's own over them", () => {
    const map = parseCompatUpstreams(
      JSON.stringify({
        ds: {
          preset: "deepseek",
          api_key: " sk-x ",
          models: { "my-model": { input: 1, cached_input: 0.1, output: 2 } },
        },
        own: {
          base_url: "https://llm.example.com/v1/",
          usage: { cached: "prompt_tokens_details.cached_tokens" },
        },
      }),
    );
    const ds = map.get("ds");
    expect(ds?.baseUrl).toBe("https://api.deepseek.com");
    expect(ds?.apiKey).toBe("sk-x");
    expect(ds?.usage.cached).toEqual(["prompt_cache_hit_tokens"]);
    expect(Object.keys(ds?.models ?? {})).toContain("deepseek-flash");
    expect(ds?.models["my-model"]).toEqual({ input: 1, cachedInput: 0.1, output: 2 });
    const own = map.get("own");
    expect(own).toMatchObject({
      baseUrl: "https://llm.example.com/v1",
      cacheControl: false,
      streamUsage: "include_usage",
    });
    expect(own?.usage).toEqual({ cached: ["prompt_tokens_details.cached_tokens"], cacheWrite: [] });
    expect(parseCompatUpstreams(undefined).size).toBe(0);
    const routes = parseCompatUpstreams(
      '{"x": {"preset": "xai"}, "y": {"preset": "xai", "route_header": false}}',
    );
    expect(routes.get("x")?.routeHeader).toBe("x-grok-conv-id");
    expect(routes.get("y")?.routeHeader).toBeUndefined();
  });

  it.each([
    ["{", /not valid JSON/],
    ["[]", /must be an object/],
    ['{"Bad Name": {"preset": "xai"}}', /name/],
    ['{"a": {"preset": "nosuch"}}', /preset must be one of/],
    ['{"a": {"usage": {"cached": "x"}}}', /base_url is required/],
    ['{"a": {"base_url": "https://x.test"}}', /usage.cached is required/],
    ['{"a": {"base_url": "ftp://x.test", "usage": {"cached": "x"}}}', /http/],
    ['{"a": {"preset": "xai", "colour": 1}}', /unknown field/],
    ['{"a": {"preset": "xai", "usage": {"cached": "Bad Path!"}}}', /dotted field path/],
    ['{"a": {"preset": "xai", "models": {"m": {"input": 1}}}}', /needs input, cached_input and output/],
    ['{"a": {"preset": "xai", "models": {"m": {"input": 0, "cached_input": 0, "output": 1}}}}', /above 0/],
    ['{"a": {"preset": "xai", "stream_usage": "sometimes"}}', /stream_usage/],
    ['{"a": {"preset": "xai", "api_key": ""}}', /api_key/],
    ['{"a": {"preset": "xai", "route_header": "authorization"}}', /route_header/],
  ])("refuses %s", (raw, message) => {
    expect(() => parseCompatUpstreams(raw)).toThrow(ConfigError);
    expect(() => parseCompatUpstreams(raw)).toThrow(message);
  });

  // A deploy's own mistake is not the client's: an opaque 500 (src/app.ts), the detail in the log only.
  it("a deploy with a bad COMPAT_UPSTREAMS refuses to serve: 500 in OpenAI's shape, no detail to the client", async () => {
    const bad = { ...env, COMPAT_UPSTREAMS: '{"a": {"preset": "nosuch"}}' } as Env;
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request("http://stoker.test/compat/a/v1/chat/completions", {
        method: "POST",
        headers: { authorization: `Bearer ${TEST_TENANTS.alpha}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] }),
      }),
      bad,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { message: string; type: string } };
    expect(body.error.type).toBe("server_error");
    expect(body.error.message).not.toContain("nosuch");
  });
});

describe("compat usage and prices", () => {
  it("reads DeepSeek's hit/miss fields and OpenRouter's cache_write_tokens to the token, clamping malformed ones", () => {
    const ds = COMPAT_PRESETS.deepseek?.usage;
    const or = COMPAT_PRESETS.openrouter?.usage;
    if (!ds || !or) throw new Error("presets");
    expect(
      compatUsage(
        {
          prompt_tokens: 1000,
          prompt_cache_hit_tokens: 640,
          prompt_cache_miss_tokens: 360,
          completion_tokens: 7,
        },
        ds,
      ),
    ).toEqual({
      inputTokens: 1000,
      uncachedTokens: 360,
      cacheReadTokens: 640,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 0,
      outputTokens: 7,
    });
    expect(
      compatUsage(
        {
          prompt_tokens: 2000,
          prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 1500 },
          completion_tokens: 3,
        },
        or,
      ),
    ).toMatchObject({ uncachedTokens: 500, cacheReadTokens: 0, cacheWrite5mTokens: 1500 });
    // OpenAI's field is not DeepSeek's: a DeepSeek answer is read from its own fields only.
    expect(
      compatUsage({ prompt_tokens: 100, prompt_tokens_details: { cached_tokens: 64 } }, ds)?.cacheReadTokens,
    ).toBe(0);
    expect(compatUsage({ prompt_tokens: 10, prompt_cache_hit_tokens: 99 }, ds)?.cacheReadTokens).toBe(10);
    expect(compatUsage(null, ds)).toBeNull();
  });

  it("prices a request from the upstream's own table; an unknown model is an estimate", () => {
    const upstream = parseCompatUpstreams('{"ds": {"preset": "deepseek"}}').get("ds");
    if (!upstream) throw new Error("parsed");
    const info = compatModelInfo(upstream, "DeepSeek-Flash");
    expect(info.known).toBe(true);
    const usage = {
      inputTokens: 1_000_000,
      uncachedTokens: 0,
      cacheReadTokens: 1_000_000,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 0,
      outputTokens: 0,
    };
    expect(costOfUsage(info, usage)).toBeCloseTo(0.006, 9);
    expect(compatModelInfo(upstream, "deepseek-unknown").known).toBe(false);
  });
});

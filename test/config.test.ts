import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../src/config.ts";

const base = {
  ANTHROPIC_UPSTREAM_URL: "https://api.anthropic.com",
  OPENAI_UPSTREAM_URL: "https://api.openai.com",
};
const tenant = (extra: Record<string, unknown> = {}) =>
  JSON.stringify([{ id: "acme", key_sha256: "a".repeat(64), ...extra }]);

describe("config is parsed once, strictly", () => {
  it("reads defaults", () => {
    const c = parseConfig(base as Env);
    expect(c.maxBodyBytes).toBe(32 * 1024 * 1024);
    expect(c.trackerDeadlineMs).toBe(10);
    expect(c.keepalive).toEqual({ enabled: true, anthropicTtlMs: 300_000 });
    expect(c.tenants).toEqual([]);
    expect(c.simulator).toBe(false);
  });

  it.each([
    [{ MAX_BODY_BYTES: "-1" }, /MAX_BODY_BYTES/],
    [{ ANTHROPIC_UPSTREAM_URL: "ftp://x" }, /http/],
    [{ LOG_LEVEL: "loud" }, /LOG_LEVEL/],
    [{ TENANTS: "{" }, /not valid JSON/],
    [{ TENANTS: tenant({ id: "bad id" }) }, /id/],
    [{ TENANTS: tenant({ key_sha256: "xyz" }) }, /key_sha256/],
    [{ TENANTS: tenant({ canonicalize: { toolOrder: "no" } }) }, /canonicalize/],
    [{ TENANTS: tenant({ canonicalize: { nonsense: true } }) }, /canonicalize/],
    [{ MODEL_PRICES: "[]" }, /MODEL_PRICES/],
    [{ MODEL_PRICES: JSON.stringify({ "my-model": { inputPerMTok: 1 } }) }, /provider/],
    [{ MODEL_PRICES: JSON.stringify({ "gpt-4o": { inputPerMTok: -1 } }) }, /MODEL_PRICES/],
    // A movable clock outside local development would let anyone who reaches it shift every deadline.
    [{ DEV_CLOCK: "1", STOKER_SIMULATOR: "" }, /DEV_CLOCK/],
  ])("rejects %o", (env, message) => {
    expect(() => parseConfig({ ...base, ...env } as Env)).toThrow(ConfigError);
    expect(() => parseConfig({ ...base, ...env } as Env)).toThrow(message);
  });

  it("merges MODEL_PRICES over the built-in table", () => {
    const c = parseConfig({
      ...base,
      MODEL_PRICES: JSON.stringify({
        "claude-sonnet-4-6": { inputPerMTok: 2 },
        "my-vllm-model": { provider: "openai", inputPerMTok: 0.2, cacheRead: 0.1 },
      }),
    } as Env);
    expect(c.models["claude-sonnet-4-6"]?.inputPerMTok).toBe(2);
    expect(c.models["claude-sonnet-4-6"]?.cacheRead).toBeCloseTo(0.1, 9);
    expect(c.models["my-vllm-model"]?.provider).toBe("openai");
  });

  it("reads a tenant's canonicalization rules and the kill switch", () => {
    const c = parseConfig({
      ...base,
      TENANTS: tenant({ canonicalize: { toolOrder: false } }),
      KEEPALIVE_KILL_SWITCH: "1",
    } as Env);
    expect(c.tenants[0]?.canonicalize).toEqual({ toolOrder: false });
    expect(c.keepalive.enabled).toBe(false);
  });

  it("reads a tenant's cache settings over the defaults and rejects unknown ones", () => {
    const c = parseConfig({ ...base, TENANTS: tenant({ cache: { retention24h: true } }) } as Env);
    expect(c.tenants[0]?.cache).toEqual({ allow1h: true, disabled: false, retention24h: true });
    expect(parseConfig({ ...base, TENANTS: tenant() } as Env).tenants[0]?.cache).toEqual({
      allow1h: true,
      disabled: false,
      retention24h: false,
    });
    for (const cache of [{ ttl: "1h" }, { disabled: "yes" }, [true], null])
      expect(() => parseConfig({ ...base, TENANTS: tenant({ cache }) } as Env)).toThrow(ConfigError);
  });
});

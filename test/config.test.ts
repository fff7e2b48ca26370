import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DEFAULTS, parseConfig } from "../src/core/config.ts";
import { ConfigError } from "../src/core/errors.ts";
import worker from "../src/index.ts";
import { namespace, simRequests } from "./support/clients.ts";
import { TEST_TENANTS } from "./support/tenants.ts";

const base = {
  ANTHROPIC_UPSTREAM_URL: "https://api.anthropic.com",
  OPENAI_UPSTREAM_URL: "https://api.openai.com",
  STOKER_SECRET: "a-deploy-secret-of-its-own",
};
const tenant = (extra: Record<string, unknown> = {}) =>
  JSON.stringify([{ id: "acme", key_sha256: "a".repeat(64), ...extra }]);

describe("config is parsed once, strictly", () => {
  it("reads defaults", () => {
    const c = parseConfig(base as Env);
    expect(c.maxBodyBytes).toBe(32 * 1024 * 1024);
    expect(c.trackerDeadlineMs).toBe(10);
    expect(c.sharedAnswersWaitMs).toBe(2);
    expect(parseConfig({ ...base, SHARED_ANSWERS_WAIT_MS: "0" } as Env).sharedAnswersWaitMs).toBe(0);
    expect(c.keepalive).toEqual({ enabled: true, anthropicTtlMs: 300_000, captureHoldMs: 10_000 });
    // On the dev clock time moves in steps a wall-clock hold cannot follow: captures go with their records.
    const dev = { ...base, STOKER_SIMULATOR: "1", DEV_CLOCK: "1" } as Env;
    expect(parseConfig(dev).keepalive.captureHoldMs).toBe(0);
    expect(parseConfig({ ...dev, KEEPALIVE_CAPTURE_HOLD_MS: "500" } as Env).keepalive.captureHoldMs).toBe(
      500,
    );
    // The same for the answers a fast loop shares with the location's other isolates.
    expect(c.sharedAnswersHoldMs).toBe(10_000);
    expect(parseConfig(dev).sharedAnswersHoldMs).toBe(0);
    expect(parseConfig({ ...dev, SHARED_ANSWERS_HOLD_MS: "400" } as Env).sharedAnswersHoldMs).toBe(400);
    // And for the wait that lets a record go with the next requests' in one RPC.
    expect(c.recordBatchWaitMs).toBe(100);
    expect(parseConfig(dev).recordBatchWaitMs).toBe(0);
    expect(parseConfig({ ...dev, RECORD_BATCH_WAIT_MS: "250" } as Env).recordBatchWaitMs).toBe(250);
    expect(c.tenants).toEqual([]);
    expect(c.simulator).toBe(false);
  });

  it.each([
    [{ MAX_BODY_BYTES: "-1" }, /MAX_BODY_BYTES/],
    [{ ANTHROPIC_UPSTREAM_URL: "ftp://x" }, /http/],
    [{ LOG_LEVEL: "loud" }, /LOG_LEVEL/],
    [{ SHARED_ANSWERS_WAIT_MS: "-1" }, /SHARED_ANSWERS_WAIT_MS/],
    [{ SHARED_ANSWERS_WAIT_MS: "1.5" }, /SHARED_ANSWERS_WAIT_MS/],
    [{ KEEPALIVE_CAPTURE_HOLD_MS: "-1" }, /KEEPALIVE_CAPTURE_HOLD_MS/],
    // Past about 30 s after the response the runtime may end the waitUntil that holds the capture.
    [{ KEEPALIVE_CAPTURE_HOLD_MS: "25000" }, /KEEPALIVE_CAPTURE_HOLD_MS/],
    [{ SHARED_ANSWERS_HOLD_MS: "-1" }, /SHARED_ANSWERS_HOLD_MS/],
    [{ RECORD_BATCH_WAIT_MS: "-1" }, /RECORD_BATCH_WAIT_MS/],
    [{ RECORD_BATCH_WAIT_MS: "1001" }, /RECORD_BATCH_WAIT_MS/],
    [{ SHARED_ANSWERS_HOLD_MS: "25000" }, /SHARED_ANSWERS_HOLD_MS/],
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
    expect(c.tenants[0]?.cache).toEqual({
      allow1h: true,
      disabled: false,
      retention24h: true,
      geminiExplicit: true,
    });
    expect(parseConfig({ ...base, TENANTS: tenant() } as Env).tenants[0]?.cache).toEqual({
      allow1h: true,
      disabled: false,
      retention24h: false,
      geminiExplicit: true,
    });
    const off = parseConfig({ ...base, TENANTS: tenant({ cache: { geminiExplicit: false } }) } as Env);
    expect(off.tenants[0]?.cache.geminiExplicit).toBe(false);
    for (const cache of [{ ttl: "1h" }, { disabled: "yes" }, [true], null])
      expect(() => parseConfig({ ...base, TENANTS: tenant({ cache }) } as Env)).toThrow(ConfigError);
  });

  it("refuses to serve without STOKER_SECRET outside local development", () => {
    const { STOKER_SECRET: _, ...noSecret } = base;
    expect(() => parseConfig(noSecret as Env)).toThrow(/STOKER_SECRET/);
    expect(() => parseConfig({ ...noSecret, STOKER_SECRET: "  " } as Env)).toThrow(ConfigError);
    for (const local of [{ STOKER_SIMULATOR: "1" }, { STOKER_LOCAL_DEV: "1" }]) {
      const c = parseConfig({ ...noSecret, ...local } as Env);
      expect(c.secret).toBe(DEFAULTS.devSecret);
      expect(c.secretIsDevDefault).toBe(true);
      expect(c.localDev).toBe(true);
    }
    expect(parseConfig(base as Env).secretIsDevDefault).toBe(false);
  });
});

describe("a deploy without STOKER_SECRET", () => {
  it("answers every request with an opaque 500 and sends nothing upstream", async () => {
    const deployEnv = { ...env, STOKER_SIMULATOR: undefined, STOKER_SECRET: undefined } as unknown as Env;
    const ns = namespace();
    const errors: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args.map(String).join(" "));
    try {
      const ctx = createExecutionContext();
      const res = await worker.fetch(
        new Request("http://stoker.test/anthropic/v1/messages", {
          method: "POST",
          headers: {
            "x-api-key": TEST_TENANTS.alpha,
            "content-type": "application/json",
            "x-sim-namespace": ns,
          },
          body: JSON.stringify({
            model: "claude-sonnet-4-6",
            max_tokens: 8,
            messages: [{ role: "user", content: "hi" }],
          }),
        }),
        deployEnv,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      expect(res.status).toBe(500);
      const text = await res.text();
      expect(text).not.toContain(DEFAULTS.devSecret);
      expect(text).toContain("Internal error in Stoker");
    } finally {
      console.error = original;
    }
    expect(errors.join("\n")).toContain("STOKER_SECRET is not set");
    expect(await simRequests(ns)).toHaveLength(0);
  });
});

describe("npm start (STOKER_LOCAL_DEV) answers loopback hosts only", () => {
  it("refuses a request addressed to another host name (DNS rebinding) with a 403", async () => {
    const localEnv = { ...env, STOKER_LOCAL_DEV: "1" } as Env;
    const get = async (url: string) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(new Request(url), localEnv, ctx);
      await waitOnExecutionContext(ctx);
      return res;
    };
    const evil = await get("http://rebound.attacker.example:8787/v1/admin/tenants");
    expect(evil.status).toBe(403);
    expect(((await evil.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
    for (const host of ["127.0.0.1:8787", "localhost:8787", "[::1]:8787"]) {
      const ok = await get(`http://${host}/healthz`);
      expect(ok.status).toBe(200);
    }
    // Without STOKER_LOCAL_DEV (a deploy, the tests) any host name is served.
    const ctx = createExecutionContext();
    expect((await worker.fetch(new Request("http://stoker.test/healthz"), env, ctx)).status).toBe(200);
  });
});

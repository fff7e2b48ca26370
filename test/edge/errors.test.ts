import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { handleError } from "../../src/app.ts";
import { StokerError } from "../../src/core/errors.ts";
import type { AppEnv } from "../../src/edge/context.ts";
import { forward } from "../../src/upstream/forward.ts";
import { namespace, STOKER, simFault, workerFetch } from "../support/clients.ts";
import { TEST_TENANTS } from "../support/tenants.ts";

const messages = (ns: string, init: { body?: string; headers?: Record<string, string> } = {}) =>
  workerFetch(`${STOKER}/anthropic/v1/messages`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-api-key": TEST_TENANTS.alpha,
      "anthropic-version": "2023-06-01",
      "x-sim-namespace": ns,
      ...init.headers,
    },
    body:
      init.body ??
      JSON.stringify({
        model: "claude-sonnet-4-6",
        max_tokens: 8,
        messages: [{ role: "user", content: "Hi" }],
      }),
  });

const chat = (ns: string, init: { body?: string; headers?: Record<string, string> } = {}) =>
  workerFetch(`${STOKER}/openai/v1/chat/completions`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${TEST_TENANTS.alpha}`,
      "x-sim-namespace": ns,
      ...init.headers,
    },
    body: init.body ?? JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] }),
  });

async function anthropicError(res: Response) {
  const json = (await res.json()) as { type: string; error: { type: string; message: string } };
  expect(json.type).toBe("error");
  expect(typeof json.error.message).toBe("string");
  return json.error;
}

async function openAIError(res: Response) {
  const json = (await res.json()) as {
    error: { message: string; type: string; param: unknown; code: unknown };
  };
  expect(Object.keys(json.error).sort()).toEqual(["code", "message", "param", "type"]);
  return json.error;
}

describe("bad input gets a clear error in the provider's shape", () => {
  it("malformed JSON -> 400", async () => {
    const a = await messages(namespace(), { body: '{"model": "x", ' });
    expect(a.status).toBe(400);
    expect((await anthropicError(a)).type).toBe("invalid_request_error");
    const o = await chat(namespace(), { body: "{nope" });
    expect(o.status).toBe(400);
    expect((await openAIError(o)).type).toBe("invalid_request_error");
  });

  it("a JSON array or scalar body -> 400", async () => {
    const res = await messages(namespace(), { body: "[1,2]" });
    expect(res.status).toBe(400);
    expect((await anthropicError(res)).message).toContain("JSON object");
  });

  it("non-JSON content type -> 415", async () => {
    const res = await messages(namespace(), { headers: { "content-type": "text/plain" } });
    expect(res.status).toBe(415);
    expect((await anthropicError(res)).type).toBe("invalid_request_error");
  });

  it("body over the limit -> 413", async () => {
    const huge = JSON.stringify({
      model: "m",
      messages: [{ role: "user", content: "x".repeat(4 * 1024 * 1024 + 10) }],
    });
    const res = await messages(namespace(), { body: huge });
    expect(res.status).toBe(413);
    expect((await anthropicError(res)).type).toBe("request_too_large");
  });

  it("missing or unknown tenant key -> 401", async () => {
    const missing = await messages(namespace(), { headers: { "x-api-key": "" } });
    expect(missing.status).toBe(401);
    expect((await anthropicError(missing)).type).toBe("authentication_error");
    const unknown = await chat(namespace(), { headers: { authorization: "Bearer sk-stoker-nobody" } });
    expect(unknown.status).toBe(401);
    expect((await openAIError(unknown)).code).toBe("invalid_api_key");
  });

  it("missing model or messages -> 400 naming the field", async () => {
    const noModel = await messages(namespace(), { body: JSON.stringify({ messages: [], max_tokens: 5 }) });
    expect(noModel.status).toBe(400);
    expect((await anthropicError(noModel)).message).toContain("model");
    const noMessages = await chat(namespace(), { body: JSON.stringify({ model: "gpt-4o" }) });
    expect(noMessages.status).toBe(400);
    expect((await openAIError(noMessages)).param).toBe("messages");
  });

  it("unknown route -> 404 JSON in the family's shape", async () => {
    const a = await workerFetch(`${STOKER}/anthropic/v1/nothing`, { method: "POST" });
    expect(a.status).toBe(404);
    expect((await anthropicError(a)).type).toBe("not_found_error");
    const other = await workerFetch(`${STOKER}/nowhere`);
    expect(other.status).toBe(404);
    expect(other.headers.get("content-type")).toContain("application/json");
  });
});

describe("upstream errors pass through unchanged", () => {
  it.each([
    [429, "rate_limit_error"],
    [529, "overloaded_error"],
    [500, "api_error"],
  ])("Anthropic %i", async (status, type) => {
    const ns = namespace();
    await simFault(ns, { status, count: 1, retry_after_seconds: 7 });
    const res = await messages(ns);
    expect(res.status).toBe(status);
    expect((await anthropicError(res)).type).toBe(type);
    if (status === 429) expect(res.headers.get("retry-after")).toBe("7");
  });

  it("OpenAI 429 keeps retry-after and the OpenAI shape", async () => {
    const ns = namespace();
    await simFault(ns, { status: 429, count: 1, retry_after_seconds: 3 });
    const res = await chat(ns);
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("3");
    await openAIError(res);
  });
});

describe("upstream unreachable or slow", () => {
  it("unreachable -> 502 bad gateway", async () => {
    const err = await forward({
      url: "http://127.0.0.1:9/v1/messages",
      headers: new Headers(),
      body: "{}",
      timeoutMs: 5000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StokerError);
    expect((err as StokerError).status).toBe(502);
  });

  it("no response headers within the timeout -> 504", async () => {
    const ns = namespace();
    await simFault(ns, { delay_ms: 4000, count: 1 });
    const res = await messages(ns);
    expect(res.status).toBe(504);
    expect((await anthropicError(res)).type).toBe("timeout_error");
  });
});

describe("unexpected internal errors", () => {
  it("become an opaque 500 with the request id and no detail", async () => {
    const app = new Hono<AppEnv>();
    app.use(async (c, next) => {
      c.set("requestId", "req_test");
      c.set("flavor", "anthropic");
      await next();
    });
    app.get("/boom", () => {
      throw new Error("secret sk-ant-very-secret leaked?");
    });
    app.onError(handleError);
    const res = await app.request("/boom");
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toContain("sk-ant-very-secret");
    expect(JSON.parse(text).error.message).toContain("req_test");
  });
});

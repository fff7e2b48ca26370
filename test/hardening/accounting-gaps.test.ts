// Requests the upstream answered (and billed) but Stoker never accounted, found by the fuzzer
// (test/hardening/fuzz.test.ts): the tracker's `record` validation (src/tracker/validate.ts) rejects the whole
// record when one of its parts is over a bound the edge never enforces, and the edge only logs
// `tracker.fault` (src/tracker/client.ts). Each test here is one such request; each fails until the edge
// bounds (or drops) the offending part, or the tracker keeps the accounting row and drops only that part.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import { longText, namespace, simStats } from "../support/clients.ts";
import { freshTenant } from "../support/tenants.ts";
import { requestRows } from "../support/tracker-state.ts";

async function accounted(path: string, headers: [string, string][], body: Record<string, unknown>) {
  const t = freshTenant();
  const ns = namespace();
  const h = new Headers([
    ["content-type", "application/json"],
    ["anthropic-version", "2023-06-01"],
    ["x-sim-namespace", ns],
    [
      path.startsWith("/anthropic") ? "x-api-key" : "authorization",
      path.startsWith("/anthropic") ? t.key : `Bearer ${t.key}`,
    ],
    ...headers,
  ]);
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`http://stoker.test${path}`, { method: "POST", headers: h, body: JSON.stringify(body) }),
    env,
    ctx,
  );
  await res.text();
  await waitOnExecutionContext(ctx);
  const id = res.headers.get("x-stoker-request-id") ?? "";
  return {
    status: res.status,
    rows: await requestRows(t.id, [id]),
    billed: (await simStats(ns)).total.requests,
  };
}

const anthropicBody = (messages = 1) => ({
  model: "claude-sonnet-4-6",
  max_tokens: 8,
  // Long enough to cache, so that Stoker plans a breakpoint and keeps a keepalive capture.
  system: longText(3000, "rules"),
  messages: Array.from({ length: messages }, (_, i) => ({
    role: i % 2 === 0 ? "user" : "assistant",
    content: `message ${i}`,
  })),
});

describe("a request the upstream answered is accounted, whatever its size or headers", () => {
  it("with more than 100 forwarded headers (the keepalive capture's header bound)", async () => {
    const many: [string, string][] = Array.from({ length: 101 }, (_, i) => [`x-client-h${i}`, "v"]);
    const r = await accounted("/anthropic/v1/messages", many, anthropicBody());
    expect(r.status).toBe(200);
    expect(r.billed).toBe(1);
    expect(r.rows).toHaveLength(1);
  });

  it("with a query string longer than 500 characters (the keepalive capture's path bound)", async () => {
    const r = await accounted(`/anthropic/v1/messages?beta=true&x=${"q".repeat(500)}`, [], anthropicBody());
    expect(r.status).toBe(200);
    expect(r.billed).toBe(1);
    expect(r.rows).toHaveLength(1);
  });

  it("with more than 4096 content blocks (the chain summary's segment bound)", async () => {
    const r = await accounted("/anthropic/v1/messages", [], anthropicBody(4101));
    expect(r.status).toBe(200);
    expect(r.billed).toBe(1);
    expect(r.rows).toHaveLength(1);
  });

  it("the same on OpenAI Chat Completions: more than 4096 messages", async () => {
    const r = await accounted("/openai/v1/chat/completions", [], {
      model: "gpt-4o-mini",
      messages: Array.from({ length: 4101 }, (_, i) => ({
        role: i % 2 ? "assistant" : "user",
        content: `m${i}`,
      })),
    });
    expect(r.status).toBe(200);
    expect(r.billed).toBe(1);
    expect(r.rows).toHaveLength(1);
  });
});

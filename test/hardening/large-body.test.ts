import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getConfig } from "../../src/core/config.ts";
import { ANALYSIS_MAX_BLOCKS } from "../../src/edge/budget.ts";
import worker from "../../src/index.ts";
import { longText, namespace, simRequests } from "../support/clients.ts";
import { backendRequests, gpuSim, prose } from "../support/gpu.ts";
import { freshTenant } from "../support/tenants.ts";
import { totalsAfter } from "../support/tracker.ts";

const MAX_BODY = getConfig(env).maxBodyBytes;

/** An Anthropic body of exactly `bytes` bytes: 16 KiB text blocks, the last one padded. */
function bodyOfSize(bytes: number, marker: string): string {
  const base = {
    model: "claude-sonnet-4-6",
    max_tokens: 8,
    stream: true,
    system: `${marker} ${longText(1200)}`,
  };
  const blocks: { type: "text"; text: string }[] = [];
  const make = () => JSON.stringify({ ...base, messages: [{ role: "user", content: blocks }] });
  const word = "lorem ipsum dolor sit amet ";
  while (make().length < bytes - 20_000) blocks.push({ type: "text", text: word.repeat(600) });
  const short = bytes - make().length - 30;
  blocks.push({ type: "text", text: "x".repeat(Math.max(0, short)) });
  let out = make();
  while (out.length < bytes) {
    (blocks[blocks.length - 1] as { text: string }).text += "x";
    out = make();
  }
  return out;
}

async function send(body: string, key: string, ns: string, workerEnv: Env) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request("http://stoker.test/anthropic/v1/messages", {
      method: "POST",
      headers: {
        "x-api-key": key,
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "x-sim-namespace": ns,
      },
      body,
    }),
    workerEnv,
    ctx,
  );
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, headers: res.headers, text };
}

async function othersInFlight(n: number) {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const t = freshTenant();
      const small = JSON.stringify({
        model: "claude-sonnet-4-6",
        max_tokens: 8,
        system: longText(1500),
        messages: [{ role: "user", content: `other ${i}` }],
      });
      const res = await send(small, t.key, namespace(), env);
      return { tenant: t.id, status: res.status };
    }),
  );
}

describe("the largest accepted body", { timeout: 60_000 }, () => {
  it("is answered and accounted while other tenants' requests are in flight (analyzed: within the budget)", async () => {
    const t = freshTenant();
    const ns = namespace();
    const body = bodyOfSize(MAX_BODY, crypto.randomUUID());
    expect(body.length).toBe(MAX_BODY);
    const started = Date.now();
    const [big, others] = await Promise.all([send(body, t.key, ns, env), othersInFlight(10)]);
    expect(big.status).toBe(200);
    expect(big.headers.get("x-stoker-analysis")).toBeNull();
    expect(others.every((o) => o.status === 200)).toBe(true);
    const totals = await totalsAfter(t.id, 1);
    expect(totals.requests).toBe(1);
    expect(totals.inputTokens).toBeGreaterThan(100_000);
    console.log(`big: ${Date.now() - started} ms`);
    for (const o of others) expect((await totalsAfter(o.tenant, 1)).requests).toBe(1);
    console.log(`largest body ${MAX_BODY} B analyzed with 10 others in flight: ${Date.now() - started} ms`);
  });

  it("over the byte budget: forwarded byte for byte, no analysis, accounted from usage; others answered", async () => {
    const budgetEnv = { ...env, ANALYSIS_MAX_BYTES: String(1024 * 1024) } as Env;
    const t = freshTenant();
    const ns = namespace();
    const body = bodyOfSize(MAX_BODY, crypto.randomUUID());
    const [big, others] = await Promise.all([send(body, t.key, ns, budgetEnv), othersInFlight(10)]);
    expect(big.status).toBe(200);
    expect(big.headers.get("x-stoker-analysis")).toBe("skipped-over-budget-bytes");
    expect(big.headers.get("x-stoker-plan")).toBeNull();
    expect(others.every((o) => o.status === 200)).toBe(true);
    const [sent] = await simRequests(ns);
    expect(sent?.body.length).toBe(body.length);
    expect(sent?.body === body).toBe(true);
    const totals = await totalsAfter(t.id, 1);
    expect(totals.requests).toBe(1);
    expect(totals.inputTokens).toBeGreaterThan(100_000);
  });

  it(`over ${ANALYSIS_MAX_BLOCKS} blocks: forwarded unchanged and accounted`, async () => {
    const t = freshTenant();
    const ns = namespace();
    const content = Array.from({ length: ANALYSIS_MAX_BLOCKS + 10 }, (_, i) => ({
      type: "text",
      text: `b${i}`,
    }));
    const body = JSON.stringify({
      model: "claude-sonnet-4-6",
      max_tokens: 8,
      messages: [{ role: "user", content }],
    });
    const res = await send(body, t.key, ns, env);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-stoker-analysis")).toBe("skipped-over-budget-blocks");
    expect((await simRequests(ns))[0]?.body === body).toBe(true);
    expect((await totalsAfter(t.id, 1)).requests).toBe(1);
  });

  it("a GPU request over the budget is not canonicalized but keeps its tenant's cache_salt", async () => {
    const t = freshTenant();
    const marker = crypto.randomUUID();
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request("http://stoker.test/gpu/salt/v1/chat/completions", {
        method: "POST",
        headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json" },
        body: JSON.stringify({
          model: "llama-3.1-8b",
          max_tokens: 2,
          messages: [{ role: "user", content: `${marker} ${prose(2000, "big")}` }],
        }),
      }),
      { ...env, ANALYSIS_MAX_BYTES: "4096" } as Env,
      ctx,
    );
    await res.text();
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-stoker-analysis")).toBe("skipped-over-budget-bytes");
    const sent = (await Promise.all(gpuSim().backends.map((u) => backendRequests(u, marker)))).flat();
    expect(sent).toHaveLength(1);
    expect(JSON.parse(sent[0]?.body ?? "{}").cache_salt).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });
});

import { describe, expect, it } from "vitest";
import { anthropic, namespace, openai, simRequests } from "../support/clients.ts";
import { justBeforeLapse, seedFamilyHistory, twoTurns } from "../support/keepalive.ts";
import { freshTenant, TEST_TENANTS, UPSTREAM_KEYS } from "../support/tenants.ts";
import { tracker } from "../support/tracker.ts";

const ORG = { "openai-organization": "org-tenant-chosen", "openai-project": "proj_tenant_chosen" };

const chat = (ns: string, opts: Parameters<typeof openai>[1]) =>
  openai(ns, opts).chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] });

describe("headers that reach the provider", () => {
  it("drops OpenAI-Organization and OpenAI-Project with the deploy's shared key, keeps them in pass-through", async () => {
    const managed = namespace();
    await chat(managed, { headers: ORG });
    const [m] = await simRequests(managed);
    expect(m?.headers.authorization).toBe(`Bearer ${UPSTREAM_KEYS.openai}`);
    expect(m?.headers["openai-organization"]).toBeUndefined();
    expect(m?.headers["openai-project"]).toBeUndefined();

    const pass = namespace();
    await chat(pass, {
      apiKey: "sk-openai-clients-own",
      headers: { ...ORG, "x-stoker-key": TEST_TENANTS.alpha },
    });
    const [p] = await simRequests(pass);
    expect(p?.headers.authorization).toBe("Bearer sk-openai-clients-own");
    expect(p?.headers["openai-organization"]).toBe(ORG["openai-organization"]);
    expect(p?.headers["openai-project"]).toBe(ORG["openai-project"]);
  });

  it("keepalive pings do not replay the captured Idempotency-Key", async () => {
    const ns = namespace();
    const t = freshTenant();
    const client = anthropic(ns, { apiKey: t.key, headers: { "idempotency-key": "idem-client-turn" } });
    const { row } = await twoTurns(client, t.id);
    await seedFamilyHistory(t.id, row.family, 2, 0.8);
    const { sweepAt } = await justBeforeLapse(ns, row, 0);
    const report = await tracker(t.id).runKeepalive(sweepAt);
    expect(report.pinged).toBe(1);
    const sent = await simRequests(ns);
    expect(sent[0]?.headers["idempotency-key"]).toBe("idem-client-turn");
    const ping = sent.find((r) => JSON.parse(r.body).max_tokens === 0);
    expect(ping).toBeDefined();
    expect(ping?.headers["idempotency-key"]).toBeUndefined();
  });
});

describe("a client's own prompt_cache_key", () => {
  it("goes upstream as an HMAC under the tenant's salt: two tenants' `support-bot` never share routing", async () => {
    const send = async (apiKey: string, responses = false) => {
      const ns = namespace();
      const client = openai(ns, { apiKey });
      if (responses)
        await client.responses.create({ model: "gpt-4o", input: "hi", prompt_cache_key: "support-bot" });
      else
        await client.chat.completions.create({
          model: "gpt-4o",
          messages: [{ role: "user", content: "hi" }],
          prompt_cache_key: "support-bot",
        });
      const [sent] = await simRequests(ns);
      return (JSON.parse(sent?.body ?? "{}") as { prompt_cache_key?: string }).prompt_cache_key;
    };
    const a1 = await send(TEST_TENANTS.alpha);
    const a2 = await send(TEST_TENANTS.alpha);
    const b = await send(TEST_TENANTS.beta);
    expect(a1).toMatch(/^stk-c-[A-Za-z0-9_-]{32}$/);
    expect(a2).toBe(a1);
    expect(b).not.toBe(a1);
    expect(b).not.toBe("support-bot");
    const r = await send(TEST_TENANTS.beta, true);
    expect(r).toMatch(/^stk-c-/);
  });
});

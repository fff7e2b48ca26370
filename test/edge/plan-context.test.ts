import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getConfig } from "../../src/core/config.ts";
import { prepare } from "../../src/edge/prepare.ts";
import { DEV_AWAIT_TRACKER } from "../../src/edge/proxy.ts";
import { toRecord } from "../../src/edge/record.ts";
import type { CacheSettings } from "../../src/plan/settings.ts";
import { admin, adminTenant } from "../support/admin.ts";
import { anthropic, longText, namespace, openai, simRequests } from "../support/clients.ts";
import { freshTenant, HIGH_MINIMUM_MODEL, TEST_TENANTS } from "../support/tenants.ts";
import { totalsAfter, tracker } from "../support/tracker.ts";

/**
 * Every input of the plan context is live: the tenant's cache settings, the deploy's model table, the
 * family's request rate and the tenant's token calibration, each seen through the worker by the simulator.
 */

const planOf = (res: Response): string => res.headers.get("x-stoker-plan") ?? "";
const sentBodies = async (ns: string) =>
  (await simRequests(ns)).map((r) => JSON.parse(r.body) as Record<string, unknown>);

function chat(ns: string, key: string, model: string, system: string, user = "hi") {
  return openai(ns, { apiKey: key })
    .chat.completions.create({
      model,
      messages: [
        { role: "system", content: system },
        { role: "user", content: user },
      ],
    })
    .withResponse();
}

function messages(
  ns: string,
  key: string,
  model: string,
  system: string,
  user = "hi",
  headers: Record<string, string> = {},
) {
  return anthropic(ns, { apiKey: key, headers })
    .messages.create({ model, max_tokens: 8, system, messages: [{ role: "user", content: user }] })
    .withResponse();
}

describe("the tenant's cache settings", { timeout: 20_000 }, () => {
  it("sets prompt_cache_retention 24h for a tenant that enabled it, on models that accept it", async () => {
    const on = await adminTenant({ cache: { retention24h: true } });
    expect(on.tenant.cache).toEqual({
      allow1h: true,
      disabled: false,
      retention24h: true,
      geminiExplicit: true,
    });
    const ns = namespace();
    const system = longText(1500, "ret");
    expect(planOf((await chat(ns, on.key, "gpt-5.1", system)).response)).toContain("ret=24h");
    await chat(ns, on.key, "gpt-4o-mini", system); // in-memory retention only
    await chat(ns, TEST_TENANTS.alpha, "gpt-5.1", system); // the default: off
    const off = await admin("PATCH", `/v1/admin/tenants/${on.id}/settings`, {
      cache: { retention24h: false },
    });
    expect(off.status).toBe(200);
    expect(off.body.cache).toEqual({
      allow1h: true,
      disabled: false,
      retention24h: false,
      geminiExplicit: true,
    });
    await chat(ns, on.key, "gpt-5.1", system, "again");
    const sent = await sentBodies(ns);
    expect(sent.map((b) => b.prompt_cache_retention)).toEqual(["24h", undefined, undefined, undefined]);
    expect(sent.every((b) => typeof b.prompt_cache_key === "string")).toBe(true);
  });

  it("validates cache settings and keeps a config tenant's in config", async () => {
    const t = await adminTenant();
    expect(t.tenant.cache).toEqual({
      allow1h: true,
      disabled: false,
      retention24h: false,
      geminiExplicit: true,
    });
    const path = `/v1/admin/tenants/${t.id}/settings`;
    expect((await admin("PATCH", path, { cache: { retention24h: "yes" } })).status).toBe(400);
    expect((await admin("PATCH", path, { cache: { ttl: "1h" } })).status).toBe(400);
    expect(
      (await admin("PATCH", "/v1/admin/tenants/alpha/settings", { cache: { disabled: true } })).status,
    ).toBe(409);
    const changes = async () => {
      const audit = await admin("GET", "/v1/admin/audit?limit=100");
      const entries = audit.body.entries as { tenant: string; action: string; detail: unknown }[];
      return entries.filter((e) => e.tenant === t.id && e.action === "tenant.cache");
    };
    expect(await changes()).toEqual([]);
    await admin("PATCH", path, { cache: { allow1h: false } });
    const got = await admin("GET", `/v1/admin/tenants/${t.id}`);
    expect(got.body.cache).toEqual({
      allow1h: false,
      disabled: false,
      retention24h: false,
      geminiExplicit: true,
    });
    expect((await changes()).map((e) => e.detail)).toEqual([{ cache: { allow1h: false } }]);
  });

  it("adds no breakpoints, cache key or retention for a tenant with caching disabled", async () => {
    const t = await adminTenant({ cache: { disabled: true, retention24h: true } });
    const ns = namespace();
    const a = await messages(ns, t.key, "claude-sonnet-4-6", longText(2500, "off"));
    expect(planOf(a.response)).toContain("note=disabled");
    expect(planOf(a.response)).not.toContain("bp=");
    const o = await chat(ns, t.key, "gpt-5.1", longText(1500, "off"));
    expect(planOf(o.response)).toContain("note=disabled");
    const [anthropicBody, openaiBody] = await sentBodies(ns);
    expect(JSON.stringify(anthropicBody)).not.toContain("cache_control");
    expect(openaiBody).not.toHaveProperty("prompt_cache_key");
    expect(openaiBody).not.toHaveProperty("prompt_cache_retention");
  });

  /**
   * Two earlier requests of the family, 40 and 20 minutes ago (recorded with Stoker's own prepare and
   * record, as the worker would have), make a head that comes back within the hour but not within 5 minutes:
   * the case for a 1h write.
   */
  async function seedSlowFamily(tenantId: string, model: string, system: string): Promise<void> {
    const config = getConfig(env);
    const stub = tracker(tenantId);
    for (const [i, ago] of [40, 20].entries()) {
      const body = { model, max_tokens: 8, system, messages: [{ role: "user", content: `earlier ${i}` }] };
      const at = Date.now() - ago * 60_000;
      const settings: CacheSettings = {
        allow1h: true,
        disabled: false,
        retention24h: false,
        geminiExplicit: true,
      };
      const prepared = await prepare({
        endpoint: "messages",
        raw: JSON.stringify(body),
        body,
        tenantId,
        tenantRules: {},
        settings,
        config,
        canonicalizeHeader: null,
        nowMs: at,
        lookup: async () => ({ known: new Map() }),
        log: { debug() {}, info() {}, warn() {}, error() {} },
      });
      const outcome = {
        requestId: `req_seed_${tenantId}_${i}`,
        tenantId,
        upstream: "anthropic" as const,
        endpoint: "messages" as const,
        model,
        stream: false,
        status: 200,
        result: "ok" as const,
        usage: null,
        startedAt: at,
        headersMs: 1,
        ttfbMs: 1,
        durationMs: 1,
        plan: prepared.planText,
      };
      const recorded = await stub.record(toRecord(outcome, prepared, null, config.models));
      expect(recorded.ok).toBe(true);
    }
  }

  it("never writes for 1 hour for a tenant that does not allow it", async () => {
    const model = "claude-sonnet-4-6";
    const system = longText(2500, "slow");
    const allowed = await adminTenant();
    const denied = await adminTenant({ cache: { allow1h: false } });
    const ns = namespace();
    for (const t of [allowed, denied]) {
      await seedSlowFamily(t.id, model, system);
      // The history is only in the tracker (seeded there), never heard by this isolate: a deploy would plan
      // this first request without it. The dev clock's wait for the lookup lets the planner read it here.
      await messages(ns, t.key, model, system, "now", { [DEV_AWAIT_TRACKER]: "1" });
    }
    const [withOneHour, without] = await sentBodies(ns);
    // The same history makes the planner choose 1h where it may...
    expect(JSON.stringify(withOneHour)).toContain('"ttl":"1h"');
    // ...and 5m where the tenant does not allow 1h.
    expect(JSON.stringify(without)).toContain('"cache_control":{"type":"ephemeral"}');
    expect(JSON.stringify(without)).not.toContain('"1h"');
  });
});

describe("the deploy's model table (MODEL_PRICES)", { timeout: 20_000 }, () => {
  it("plans with a model's minimum from MODEL_PRICES", async () => {
    const t = freshTenant();
    const ns = namespace();
    const system = longText(2500, "min");
    const known = await messages(ns, t.key, "claude-sonnet-4-6", system);
    expect(planOf(known.response)).toContain("bp=head@");
    // The same prompt on a model whose minimum MODEL_PRICES sets to 64k tokens: nothing would be cached.
    const high = await messages(ns, t.key, HIGH_MINIMUM_MODEL, system);
    expect(planOf(high.response)).not.toContain("bp=");
    const [, sent] = await sentBodies(ns);
    expect(JSON.stringify(sent)).not.toContain("cache_control");
  });
});

describe("the family's request rate", () => {
  it("shards the OpenAI cache key of a family that runs above 5 requests a minute", async () => {
    const t = freshTenant();
    const ns = namespace();
    const system = longText(1500, "hot");
    const plans: string[] = [];
    for (let i = 0; i < 24; i++) {
      const { response } = await chat(ns, t.key, "gpt-4o-mini", system, `Question ${i}`);
      plans.push(planOf(response));
      await totalsAfter(t.id, i + 1);
    }
    const sharded = plans.findIndex((p) => /key=stk-[A-Za-z0-9_-]+\(\d+\/\d+\)/.test(p));
    // One key while the family's recorded rate is at most 5 a minute (a third of what OpenAI routes to one
    // machine), then one per shard.
    expect(sharded).toBeGreaterThanOrEqual(5);
    expect(sharded).toBeLessThan(15);
    const sent = await sentBodies(ns);
    const base = sent[0]?.prompt_cache_key as string;
    expect(base).toMatch(/^stk-/);
    expect(sent.slice(0, sharded).every((b) => b.prompt_cache_key === base)).toBe(true);
    const [, shard, shards] = /\((\d+)\/(\d+)\)/.exec(plans[sharded] as string) ?? [];
    expect(Number(shards)).toBeGreaterThan(1);
    expect(sent[sharded]?.prompt_cache_key).toBe(`${base}-${Number(shard) - 1}`);
  }, 60_000);
});

describe("the tenant's token calibration", { timeout: 20_000 }, () => {
  it("scales its token estimates by what the provider reported for the tenant and model", async () => {
    const t = freshTenant();
    const ns = namespace();
    const model = "claude-sonnet-4-6"; // 1024-token minimum
    // Digits and spaces: Stoker's prior estimates about 1.3 tokens per digit, the simulator counts 4 bytes
    // per token, so this prompt is above the minimum by the prior and well below it by the provider's count.
    const system = Array.from({ length: 1400 }, (_, i) => String(i % 10)).join(" ");
    const first = await messages(ns, t.key, model, system, "first");
    const before = planOf(first.response);
    expect(before).toContain("bp=head@");
    const reported = first.data.usage;
    expect(
      reported.input_tokens +
        (reported.cache_read_input_tokens ?? 0) +
        (reported.cache_creation_input_tokens ?? 0),
    ).toBeLessThan(1024);
    await totalsAfter(t.id, 1);
    // Another conversation of the family: planned with the learned ratio, the head is below the minimum.
    const second = await messages(ns, t.key, model, system, "second");
    expect(planOf(second.response)).not.toContain("bp=");
    expect(planOf(second.response)).toContain("write=0");
  });
});

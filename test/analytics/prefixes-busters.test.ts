import type Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { BustersSchema, PrefixesSchema } from "../../src/analytics/schemas.ts";
import { api } from "../support/analytics.ts";
import { anthropic, longText, namespace } from "../support/clients.ts";
import { freshTenant } from "../support/tenants.ts";
import { eventually, totalsAfter, tracker } from "../support/tracker.ts";

const MODEL = "claude-sonnet-4-6";

describe("GET /v1/analytics/prefixes", () => {
  it("lists the entries a conversation reads, with hits, TTL left and money saved; pages with a cursor", async () => {
    const t = freshTenant();
    const client = anthropic(namespace(), { apiKey: t.key });
    const system = longText(3000, "rules");
    const messages: Anthropic.MessageParam[] = [];
    for (let turn = 0; turn < 4; turn++) {
      messages.push({ role: "user", content: `Turn ${turn}: ${longText(30, `u${turn}`)}` });
      const reply = await client.messages.create({
        model: MODEL,
        max_tokens: 16,
        system,
        messages: [...messages],
      });
      messages.push({ role: "assistant", content: reply.content });
    }
    await totalsAfter(t.id, 4);
    const { status, body } = await api("/v1/analytics/prefixes?limit=2", t.key);
    expect(status).toBe(200);
    const page1 = PrefixesSchema.parse(body);
    expect(page1.prefixes).toHaveLength(2);
    const top = page1.prefixes[0];
    expect(top?.hits).toBeGreaterThan(0);
    expect(top?.tokens).toBeGreaterThan(2500);
    expect(top?.id).toMatch(/^[0-9a-f]{12}$|^[A-Za-z0-9_-]{12}$/);
    expect(top?.ttl_left_seconds).toBeGreaterThan(200);
    // The head, written for the hour (a new tenant's heads are taken to recur until two of them do not).
    expect(top?.ttl_left_seconds).toBeLessThanOrEqual(3600);
    expect(top?.last_hit).not.toBeNull();
    // Reads at $0.30 instead of $3 per MTok, less each write's premium: 25 % for 5 minutes, 100 % for the hour
    // (the head, written once for the hour).
    expect(top?.writes_1h).toBe(1);
    const base = ((top?.tokens ?? 0) * 3) / 1e6;
    const premium = ((top?.writes ?? 0) - (top?.writes_1h ?? 0)) * 0.25 + (top?.writes_1h ?? 0) * 1;
    expect(top?.saved_usd).toBeCloseTo((top?.hits ?? 0) * base * 0.9 - premium * base, 5);
    expect(page1.next_cursor).toBe("2");

    const all = PrefixesSchema.parse((await api("/v1/analytics/prefixes?limit=200", t.key)).body);
    const page2 = PrefixesSchema.parse((await api("/v1/analytics/prefixes?limit=2&cursor=2", t.key)).body);
    expect(page2.prefixes.map((p) => p.id)).toEqual(all.prefixes.slice(2, 4).map((p) => p.id));
    expect(all.next_cursor).toBeNull();
    // Sorted by tokens read.
    const read = all.prefixes.map((p) => p.hits * p.tokens);
    expect([...read].sort((a, b) => b - a)).toEqual(read);
  });
});

describe("GET /v1/analytics/busters", () => {
  it("groups the findings, with a redacted excerpt (no values) and what to fix", async () => {
    const t = freshTenant();
    const client = anthropic(namespace(), { apiKey: t.key });
    const body = longText(3000, "rules");
    const stamps = ["2026-11-27T21:00:01Z", "2026-11-27T21:00:42Z", "2026-11-27T21:01:13Z"];
    for (const stamp of stamps) {
      await client.messages.create({
        model: MODEL,
        max_tokens: 16,
        system: `You are the assistant of Acme. Current time: ${stamp} (UTC)\n${body}`,
        messages: [{ role: "user", content: "What changed?" }],
      });
    }
    await totalsAfter(t.id, 3);
    await eventually(
      () => tracker(t.id).busters(),
      (f) => f.length >= 2,
    );
    const { status, body: json } = await api("/v1/analytics/busters", t.key);
    expect(status).toBe(200);
    const { busters, next_cursor } = BustersSchema.parse(json);
    expect(next_cursor).toBeNull();
    expect(busters).toHaveLength(1);
    const b = busters[0];
    expect(b?.kind).toBe("system");
    expect(b?.volatile).toBe(true);
    expect(b?.count).toBe(2);
    expect(b?.tokens_lost).toBeGreaterThan(4000);
    // tokens lost × $3/MTok × (1 − 0.1): the read each miss would have been.
    expect(b?.cost_usd).toBeCloseTo(((b?.tokens_lost ?? 0) * 3 * 0.9) / 1e6, 5);
    expect(b?.excerpt).toContain("«date»");
    expect(b?.excerpt).toContain("Current time:");
    for (const s of stamps) expect(b?.excerpt).not.toContain(s.slice(0, 10));
    expect(b?.fix).toMatch(/last user message|volatileToTail/);
    expect(b?.example_request_id).toMatch(/^req_stk_/);

    // Stored sealed: no row holds the excerpt's text.
    const other = freshTenant();
    const theirs = BustersSchema.parse((await api("/v1/analytics/busters", other.key)).body);
    expect(theirs.busters).toEqual([]);
  });
});

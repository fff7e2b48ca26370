import type Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { BustersSchema } from "../../src/analytics/schemas.ts";
import { api } from "../support/analytics.ts";
import { anthropic, longText, namespace, STOKER, simRequests, workerFetch } from "../support/clients.ts";
import { freshTenant, TEST_TENANTS } from "../support/tenants.ts";
import { eventually, totalsAfter, tracker } from "../support/tracker.ts";

// Anthropic cache diagnostics (issue 15): Stoker asks for them on the client's behalf, keeps the provider's
// reason beside its own cache-buster finding, and shows the client nothing it did not ask for.

const MODEL = "claude-sonnet-4-6";
const SYSTEM = `You are the assistant of Acme.\n${longText(3000, "rules")}`;

/** The `diagnostics` the simulator received in each Anthropic request, in order (undefined: none sent). */
async function sentDiagnostics(ns: string): Promise<unknown[]> {
  const sent = (await simRequests(ns)).filter((r) => r.path.endsWith("/v1/messages"));
  return sent.map((r) => (JSON.parse(r.body) as { diagnostics?: unknown }).diagnostics);
}

/** A raw request through the worker, as a client without the SDK sends it. */
function post(ns: string, key: string, body: Record<string, unknown>): Promise<Response> {
  return workerFetch(`${STOKER}/anthropic/v1/messages`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "anthropic-version": "2023-06-01",
      "x-api-key": key,
      "x-sim-namespace": ns,
    },
    body: JSON.stringify(body),
  });
}

/** The parsed `message_start` of an SSE text, and the raw text. */
function messageStart(sse: string): Record<string, unknown> {
  const line = sse.split("\n").find((l) => l.startsWith("data: ") && l.includes('"message_start"'));
  expect(line).toBeDefined();
  return (JSON.parse((line as string).slice(6)) as { message: Record<string, unknown> }).message;
}

describe("Anthropic cache diagnostics asked for on the client's behalf", () => {
  it("opts in on the first turn, names the last answer on the next; the client sees diagnostics: null (JSON)", async () => {
    const t = freshTenant();
    const ns = namespace();
    const client = anthropic(ns, { apiKey: t.key });
    const messages: Anthropic.MessageParam[] = [{ role: "user", content: "First question?" }];
    const r1 = await client.messages.create({ model: MODEL, max_tokens: 16, system: SYSTEM, messages });
    await totalsAfter(t.id, 1);
    messages.push({ role: "assistant", content: r1.content }, { role: "user", content: "Second?" });
    const r2 = await client.messages.create({ model: MODEL, max_tokens: 16, system: SYSTEM, messages });
    await totalsAfter(t.id, 2);
    // The system prompt changes: the provider answers Stoker with system_changed, the client must not see it.
    messages.push({ role: "assistant", content: r2.content }, { role: "user", content: "Third?" });
    const res = await post(ns, t.key, {
      model: MODEL,
      max_tokens: 16,
      system: `${SYSTEM}\nToday is Tuesday.`,
      messages,
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain("cache_miss_reason");
    const r3 = JSON.parse(text) as Anthropic.Message;
    expect(r3.diagnostics).toBeNull();
    expect(r1.diagnostics).toBeNull();
    expect(r2.diagnostics).toBeNull();

    expect(await sentDiagnostics(ns)).toEqual([
      { previous_message_id: null },
      { previous_message_id: r1.id },
      { previous_message_id: r2.id },
    ]);
    // No beta header is added: the feature is GA and the SDK deprecates `cache-diagnosis-2026-04-07`.
    for (const r of await simRequests(ns)) expect(r.headers["anthropic-beta"]).toBeUndefined();

    // The provider's reason is kept with the request.
    await totalsAfter(t.id, 3);
    const { provider_agreement } = BustersSchema.parse((await api("/v1/analytics/busters", t.key)).body);
    expect(provider_agreement.provider_reasons).toEqual({ system_changed: 1 });
  });

  it("hides the provider's answer in the stream's message_start, every other event as it came", async () => {
    const t = freshTenant();
    const ns = namespace();
    const first = await post(ns, t.key, {
      model: MODEL,
      max_tokens: 16,
      stream: true,
      system: SYSTEM,
      messages: [{ role: "user", content: "Hello?" }],
    });
    const id1 = messageStart(await first.text()).id as string;
    await totalsAfter(t.id, 1);
    const second = await post(ns, t.key, {
      model: MODEL,
      max_tokens: 16,
      stream: true,
      system: `${SYSTEM}\nChanged.`,
      messages: [{ role: "user", content: "Hello?" }],
    });
    expect(second.status).toBe(200);
    const sse = await second.text();
    expect(sse).not.toContain("cache_miss_reason");
    const start = messageStart(sse);
    expect("diagnostics" in start).toBe(true);
    expect(start.diagnostics).toBeNull();
    expect(sse).toContain("event: message_stop");
    expect(await sentDiagnostics(ns)).toEqual([{ previous_message_id: null }, { previous_message_id: id1 }]);
    // Stoker read the reason on the side before hiding it.
    await totalsAfter(t.id, 2);
    const { provider_agreement } = BustersSchema.parse((await api("/v1/analytics/busters", t.key)).body);
    expect(provider_agreement.provider_reasons).toEqual({ system_changed: 1 });
  });

  it("forwards a client's own diagnostics untouched and shows it the provider's answer (JSON and stream)", async () => {
    const t = freshTenant();
    const ns = namespace();
    const client = anthropic(ns, { apiKey: t.key });
    const r1 = await client.messages.create({
      model: MODEL,
      max_tokens: 16,
      system: SYSTEM,
      messages: [{ role: "user", content: "Hi" }],
      diagnostics: { previous_message_id: null },
    });
    await totalsAfter(t.id, 1);
    const r2 = await client.messages.create({
      model: "claude-opus-4-6",
      max_tokens: 16,
      system: SYSTEM,
      messages: [{ role: "user", content: "Hi" }],
      diagnostics: { previous_message_id: r1.id },
    });
    expect(r2.diagnostics?.cache_miss_reason?.type).toBe("model_changed");
    const own = `{"previous_message_id":"${r1.id}"}`;
    const raw = await post(ns, t.key, {
      model: MODEL,
      max_tokens: 16,
      stream: true,
      system: `${SYSTEM}\nOther.`,
      messages: [{ role: "user", content: "Hi" }],
      diagnostics: JSON.parse(own),
    });
    const start = messageStart(await raw.text());
    expect((start.diagnostics as Anthropic.Diagnostics).cache_miss_reason?.type).toBe("system_changed");

    const bodies = (await simRequests(ns)).filter((r) => r.path.endsWith("/v1/messages")).map((r) => r.body);
    expect(bodies).toHaveLength(3);
    // Exactly the client's own field, once, never Stoker's.
    expect(bodies[0]?.match(/"diagnostics"/g)).toHaveLength(1);
    expect(bodies[0]).toContain('"diagnostics":{"previous_message_id":null}');
    expect(bodies[1]?.match(/"diagnostics"/g)).toHaveLength(1);
    expect(bodies[1]).toContain(`"diagnostics":${own}`);
    expect(bodies[2]?.match(/"diagnostics"/g)).toHaveLength(1);
    expect(bodies[2]).toContain(`"diagnostics":${own}`);
  });

  it("adds nothing in pass-through mode: the provider key and its organization are the client's", async () => {
    const ns = namespace();
    const res = await workerFetch(`${STOKER}/anthropic/v1/messages`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "x-api-key": "sk-ant-client-own-key",
        "x-stoker-key": TEST_TENANTS.beta,
        "x-sim-namespace": ns,
      },
      body: JSON.stringify({
        model: MODEL,
        max_tokens: 16,
        system: SYSTEM,
        messages: [{ role: "user", content: "Hi" }],
      }),
    });
    expect(res.status).toBe(200);
    expect(await sentDiagnostics(ns)).toEqual([undefined]);
  });

  it("adds nothing to a server-held thread turn (Stoker does not analyze it)", async () => {
    const t = freshTenant();
    const ns = namespace();
    const res = await post(ns, t.key, {
      model: MODEL,
      max_tokens: 16,
      system: SYSTEM,
      messages: [{ role: "user", content: "Start a thread" }],
      thread: { type: "create" },
    });
    expect(res.status).toBe(200);
    expect(await sentDiagnostics(ns)).toEqual([undefined]);
  });
});

describe("the provider's reason beside Stoker's cache-buster finding", () => {
  it("stores system_changed with the system finding, shows both in /v1/analytics/busters, counts agreement", async () => {
    const t = freshTenant();
    const client = anthropic(namespace(), { apiKey: t.key });
    const body = longText(3000, "rules");
    const stamps = ["2026-11-27T21:00:01Z", "2026-11-27T21:00:42Z", "2026-11-27T21:01:13Z"];
    for (const [i, stamp] of stamps.entries()) {
      await client.messages.create({
        model: MODEL,
        max_tokens: 16,
        system: `You are the assistant of Acme. Current time: ${stamp} (UTC)\n${body}`,
        messages: [{ role: "user", content: "What changed?" }],
      });
      await totalsAfter(t.id, i + 1);
    }
    const findings = await eventually(
      () => tracker(t.id).busters(),
      (f) => f.length >= 2,
    );
    expect(findings.map((f) => [f.kind, f.providerReason])).toEqual([
      ["system", "system_changed"],
      ["system", "system_changed"],
    ]);
    const { status, body: json } = await api("/v1/analytics/busters", t.key);
    expect(status).toBe(200);
    const parsed = BustersSchema.parse(json);
    expect(parsed.busters).toHaveLength(1);
    const b = parsed.busters[0];
    expect(b?.kind).toBe("system");
    expect(b?.provider_reasons).toEqual({ system_changed: 2 });
    expect(b?.provider_compared).toBe(2);
    expect(b?.provider_agrees).toBe(2);
    expect(parsed.provider_agreement).toEqual({
      compared: 2,
      agree: 2,
      share: 1,
      stoker_only: 0,
      provider_only: 0,
      provider_reasons: { system_changed: 2 },
    });
  });
});

describe("the dashboard", () => {
  it("shows the provider's reasons beside each buster group and the agreement line", async () => {
    const html = await (await workerFetch(`${STOKER}/dashboard`)).text();
    expect(html).toContain("<th>Anthropic says</th>");
    expect(html).toContain('id="busters-agreement"');
    const app = await (await workerFetch(`${STOKER}/dashboard/app.js`)).text();
    expect(app).toContain("busters.provider_agreement");
    expect(app).toContain("b.provider_reasons");
  });
});

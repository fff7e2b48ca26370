import type OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { longText, namespace, openai, simAdvance, simRequests } from "../support/clients.ts";
import { justBeforeLapse, keepaliveRows, seedFamilyHistory } from "../support/keepalive.ts";
import { freshTenant } from "../support/tenants.ts";
import { totalsAfter, tracker } from "../support/tracker.ts";

// A model whose cached input costs 0.1x: at gpt-4o-mini's 0.5x a ping never pays (the policy says so).
const MODEL = "gpt-5.4-mini";

async function twoTurns(model = MODEL, t = freshTenant(), seed = "u") {
  const ns = namespace();
  // A tenant may have recorded other conversations already: wait for these two records, not any two.
  const before = (await tracker(t.id).totals()).requests;
  const client = openai(ns, { apiKey: t.key });
  const messages: OpenAI.ChatCompletionMessageParam[] = [
    { role: "system", content: longText(3000, "rules") },
  ];
  for (let turn = 0; turn < 2; turn++) {
    messages.push({ role: "user", content: `Turn ${turn}: ${longText(200, `${seed}${turn}`)}` });
    const reply = await client.chat.completions.create({ model, messages: [...messages] });
    messages.push({ role: "assistant", content: reply.choices[0]?.message.content ?? "" });
  }
  await totalsAfter(t.id, before + 2);
  const row = (await keepaliveRows(t.id)).find((r) => r.state === "live");
  if (!row) throw new Error("no keepalive candidate after two turns");
  const third = () => {
    messages.push({ role: "user", content: "Turn 2: and now?" });
    return client.chat.completions.create({ model, messages: [...messages] });
  };
  return { ns, t, row, third };
}

describe("keepalive on OpenAI Chat Completions", () => {
  it("a one-token ping with the same prompt_cache_key keeps a paused conversation cached", async () => {
    const { ns, t, row, third } = await twoTurns();
    await seedFamilyHistory(t.id, row.family, 2, 0.8);
    const { sweepAt } = await justBeforeLapse(ns, row, 0);
    const report = await tracker(t.id).runKeepalive(sweepAt);
    expect(report.refreshed).toBe(1);
    const sent = (await simRequests(ns)).map((r) => JSON.parse(r.body));
    const ping = sent.at(-1);
    expect(ping.max_completion_tokens).toBe(1);
    expect(ping.prompt_cache_key).toBe(sent[1].prompt_cache_key);
    await simAdvance(ns, (row.last_use + 7 * 60_000 - sweepAt) / 1000);
    const reply = await third();
    expect(reply.usage?.prompt_tokens_details?.cached_tokens ?? 0).toBeGreaterThan(3000);
  });

  it("on a model whose cached input costs half the base price, a ping never pays and none is sent", async () => {
    const { ns, t, row } = await twoTurns("gpt-4o-mini");
    await seedFamilyHistory(t.id, row.family, 2, 0.8);
    const { sweepAt } = await justBeforeLapse(ns, row, 0);
    const report = await tracker(t.id).runKeepalive(sweepAt);
    expect(report.pinged).toBe(0);
    expect((await keepaliveRows(t.id))[0]?.note).toBe("does-not-pay");
  });

  it("a tenant whose pings find nothing learns it and stops pinging", async () => {
    // Same family, three conversations. For the first two the provider has lost the entry before Stoker's
    // deadline (its clock runs a minute past the lapse): each ping reads nothing and pays the whole prompt.
    const t = freshTenant();
    for (const seed of ["a", "b"]) {
      const { ns, row } = await twoTurns(MODEL, t, seed);
      await seedFamilyHistory(t.id, row.family, 2, 0.8);
      await simAdvance(ns, (row.cached_until + 60_000 - Date.now()) / 1000);
      const report = await tracker(t.id).runKeepalive(row.cached_until - 15_000);
      expect(report.gone).toBe(1);
    }
    // The third is just like the first test's, where a fresh tenant pings: this tenant no longer does.
    const { ns, row } = await twoTurns(MODEL, t, "c");
    await seedFamilyHistory(t.id, row.family, 2, 0.8);
    const { sweepAt } = await justBeforeLapse(ns, row, 0);
    const report = await tracker(t.id).runKeepalive(sweepAt);
    expect(report.pinged).toBe(0);
    const third = (await keepaliveRows(t.id)).find((r) => r.conversation === row.conversation);
    expect(third?.note).toBe("does-not-pay");
  });

  it("without the ping the same pause misses (control)", async () => {
    const { ns, row, third } = await twoTurns();
    await simAdvance(ns, (row.last_use + 7 * 60_000 - Date.now()) / 1000);
    const reply = await third();
    expect(reply.usage?.prompt_tokens_details?.cached_tokens ?? 0).toBe(0);
  });
});

describe("keepalive on the OpenAI Responses API", () => {
  it("a 16-token ping keeps a paused conversation cached", async () => {
    const ns = namespace();
    const t = freshTenant();
    const client = openai(ns, { apiKey: t.key });
    const instructions = longText(3000, "rules");
    const input: OpenAI.Responses.ResponseInputItem[] = [];
    for (let turn = 0; turn < 2; turn++) {
      input.push({ role: "user", content: `Turn ${turn}: ${longText(200, `u${turn}`)}` });
      const reply = await client.responses.create({ model: MODEL, instructions, input: [...input] });
      input.push({ role: "assistant", content: reply.output_text });
    }
    await totalsAfter(t.id, 2);
    const [row] = await keepaliveRows(t.id);
    expect(row).toBeDefined();
    if (!row) return;
    await seedFamilyHistory(t.id, row.family, 2, 0.8);
    const { sweepAt } = await justBeforeLapse(ns, row, 0);
    const report = await tracker(t.id).runKeepalive(sweepAt);
    expect(report.refreshed).toBe(1);
    const ping = JSON.parse((await simRequests(ns)).at(-1)?.body ?? "{}");
    expect(ping.max_output_tokens).toBe(16);
    expect(ping.store).toBe(false);
    await simAdvance(ns, (row.last_use + 7 * 60_000 - sweepAt) / 1000);
    input.push({ role: "user", content: "Turn 2: and now?" });
    const third = await client.responses.create({ model: MODEL, instructions, input: [...input] });
    expect(third.usage?.input_tokens_details?.cached_tokens ?? 0).toBeGreaterThan(3000);
  });
});

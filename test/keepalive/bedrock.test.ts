import {
  ConverseCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
  type Message,
} from "@aws-sdk/client-bedrock-runtime";
import { describe, expect, it } from "vitest";
import { bedrock, longText, namespace, simAdvance, simRequests, simStats } from "../support/clients.ts";
import {
  justBeforeLapse,
  type KeepaliveRowView,
  keepaliveRows,
  seedFamilyHistory,
} from "../support/keepalive.ts";
import { freshTenant } from "../support/tenants.ts";
import { totalsAfter, tracker } from "../support/tracker.ts";

const MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

/** Two quick Converse turns on a long system prompt, recorded; the keepalive candidate they left. */
async function twoConverseTurns() {
  const ns = namespace();
  const t = freshTenant();
  const client = bedrock(ns, { apiKey: t.key });
  const system = [{ text: longText(3000, "rules") }];
  const messages: Message[] = [];
  for (let turn = 0; turn < 2; turn++) {
    messages.push({ role: "user", content: [{ text: `Turn ${turn}: ${longText(1500, `u${turn}`)}` }] });
    const res = await client.send(
      new ConverseCommand({
        modelId: MODEL,
        system,
        messages: [...messages],
        inferenceConfig: { maxTokens: 32 },
      }),
    );
    messages.push({ role: "assistant", content: res.output?.message?.content ?? [] });
  }
  await totalsAfter(t.id, 2);
  const [row] = await keepaliveRows(t.id);
  messages.push({ role: "user", content: [{ text: "Turn 2: and now?" }] });
  const third = () =>
    client.send(
      new ConverseCommand({ modelId: MODEL, system, messages, inferenceConfig: { maxTokens: 32 } }),
    );
  return { ns, t, row, third };
}

describe("keepalive on Bedrock", () => {
  it("a Converse conversation paused for 7 minutes is pinged through Bedrock's own API (signed) and reads the cache on its next turn", async () => {
    const { ns, t, row: candidate, third } = await twoConverseTurns();
    const row = candidate as KeepaliveRowView;
    expect(row).toBeDefined();
    await seedFamilyHistory(t.id, row.family, 2, 0.8);
    const { sweepAt } = await justBeforeLapse(ns, row, 0);
    const report = await tracker(t.id).runKeepalive(sweepAt);
    expect(report.pinged).toBe(1);
    expect(report.refreshed).toBe(1);
    const reqs = await simRequests(ns);
    const ping = reqs[2];
    // Bedrock's Converse, signed with the deploy's AWS credentials (the simulator checks the signature), one
    // output token; nothing went to Anthropic's API.
    expect(ping?.path).toBe(`/bedrock/model/${encodeURIComponent(MODEL)}/converse`);
    expect(ping?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 /);
    const body = JSON.parse(ping?.body ?? "{}") as { inferenceConfig: unknown; messages: unknown[] };
    expect(body.inferenceConfig).toEqual({ maxTokens: 1 });
    const stats = await simStats(ns);
    expect(stats.bedrock.requests).toBe(3);
    expect(stats.anthropic.requests).toBe(0);
    expect(stats.bedrock.cache_read_input_tokens).toBeGreaterThan(3000);
    // The user comes back 7 minutes after turn 2.
    await simAdvance(ns, (row.last_use + 7 * 60_000 - sweepAt) / 1000);
    const reply = await third();
    // The whole conversation, not only the head (written for the hour, it outlives the pause anyway).
    expect(reply.usage?.cacheReadInputTokens).toBeGreaterThanOrEqual(row.tokens * 0.9);
  });

  it("without the ping the same pause misses (control)", async () => {
    const started = Date.now();
    const { ns, row, third } = await twoConverseTurns();
    await simAdvance(ns, (started + 7 * 60_000 - Date.now()) / 1000);
    const reply = await third();
    // At most the head (written for the hour); the conversation beyond it lapsed.
    const view = row as KeepaliveRowView;
    expect(view.exposed).toBeGreaterThan(2000);
    expect(reply.usage?.cacheReadInputTokens ?? 0).toBeLessThanOrEqual(view.tokens - (view.exposed ?? 0));
  });

  it("an InvokeModel conversation whose last turn streamed is pinged through InvokeModel (not the stream operation), one output token", async () => {
    const ns = namespace();
    const t = freshTenant();
    const client = bedrock(ns, { apiKey: t.key });
    const system = longText(3000, "rules");
    const messages: { role: string; content: string }[] = [];
    const body = () =>
      new TextEncoder().encode(
        JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 32, system, messages }),
      );
    messages.push({ role: "user", content: `Turn 0: ${longText(1500, "u0")}` });
    const first = await client.send(
      new InvokeModelCommand({ modelId: MODEL, contentType: "application/json", body: body() }),
    );
    const one = JSON.parse(new TextDecoder().decode(first.body)) as { content: { text: string }[] };
    messages.push({ role: "assistant", content: one.content[0]?.text ?? "" });
    messages.push({ role: "user", content: `Turn 1: ${longText(1500, "u1")}` });
    const second = await client.send(
      new InvokeModelWithResponseStreamCommand({
        modelId: MODEL,
        contentType: "application/json",
        body: body(),
      }),
    );
    for await (const _ of second.body ?? []) {
      // read to the end
    }
    await totalsAfter(t.id, 2);
    const [row] = await keepaliveRows(t.id);
    expect(row).toBeDefined();
    const candidate = row as KeepaliveRowView;
    await seedFamilyHistory(t.id, candidate.family, 2, 0.8);
    const { sweepAt } = await justBeforeLapse(ns, candidate, 0);
    const report = await tracker(t.id).runKeepalive(sweepAt);
    expect(report.refreshed).toBe(1);
    const ping = (await simRequests(ns))[2];
    expect(ping?.path).toBe(`/bedrock/model/${encodeURIComponent(MODEL)}/invoke`);
    const sent = JSON.parse(ping?.body ?? "{}") as { max_tokens: number; anthropic_version: string };
    expect(sent.max_tokens).toBe(1);
    expect(sent.anthropic_version).toBe("bedrock-2023-05-31");
    const stats = await simStats(ns);
    expect(stats.anthropic.requests).toBe(0);
    expect(stats.bedrock.requests).toBe(3);
  });
});

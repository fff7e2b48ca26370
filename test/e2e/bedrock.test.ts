import {
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} from "@aws-sdk/client-bedrock-runtime";
import { describe, expect, it } from "vitest";
import { TenantSchema } from "../../src/analytics/schemas.ts";
import { costOfUsage } from "../../src/economics/cost.ts";
import { admin, adminTenant } from "../support/admin.ts";
import { expectFiguresMatchBill, upstreamFigures } from "../support/analytics.ts";
import {
  bedrock,
  freshClient,
  longText,
  namespace,
  STOKER,
  simFault,
  simRequests,
  simStats,
  workerFetch,
} from "../support/clients.ts";
import { AWS_TEST_CREDENTIALS, TEST_TENANTS } from "../support/tenants.ts";

const MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
// About 5,000 tokens at 4 bytes per token: above Sonnet 4.5's 1,024-token checkpoint minimum.
const SYSTEM = longText(2500, "handbook");
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const invokeBody = (messages: unknown[], extra: Record<string, unknown> = {}) =>
  encoder.encode(
    JSON.stringify({
      anthropic_version: "bedrock-2023-05-31",
      max_tokens: 200,
      system: SYSTEM,
      messages,
      ...extra,
    }),
  );

interface Turn {
  role: "user" | "assistant";
  text: string;
}

/**
 * Five turns of one growing conversation: `send` sends the turns so far (the last a new question) and returns
 * the answer's text and the tokens it read from the cache. Turn 2 reads the system prompt; each later turn
 * reads through an earlier turn of the conversation, not only the system prompt.
 */
async function expectConversationCached(
  key: string,
  send: (turns: Turn[]) => Promise<{ text: string; read: number }>,
): Promise<void> {
  const turns: Turn[] = [];
  const reads: number[] = [];
  for (let turn = 1; turn <= 5; turn++) {
    turns.push({ role: "user", text: `Question ${turn}: ${longText(40, `q${turn}`)}` });
    const answer = await send(turns);
    reads.push(answer.read);
    turns.push({ role: "assistant", text: answer.text });
    await upstreamFigures(key, "bedrock", turn); // the user reads the answer: the tracker has the turn
  }
  const head = reads[1] ?? 0;
  expect(head).toBeGreaterThanOrEqual(2500);
  for (const later of reads.slice(2)) expect(later).toBeGreaterThan(head);
  expect(reads[4]).toBeGreaterThan(reads[3] ?? 0);
}

interface SdkError {
  name: string;
  message: string;
  $metadata: { httpStatusCode: number };
}

/** The error an SDK call rejects with (the test fails if it resolves). */
async function failure(call: Promise<unknown>): Promise<SdkError> {
  try {
    await call;
  } catch (e) {
    return e as SdkError;
  }
  throw new Error("the call succeeded");
}

describe("Bedrock through Stoker (@aws-sdk/client-bedrock-runtime)", () => {
  it("InvokeModel: the Anthropic body answered, signed upstream with the deploy's AWS credentials (SigV4), never the tenant key", async () => {
    const ns = namespace();
    const res = await bedrock(ns).send(
      new InvokeModelCommand({
        modelId: MODEL,
        contentType: "application/json",
        body: invokeBody([{ role: "user", content: "Hello there" }]),
      }),
    );
    const json = JSON.parse(decoder.decode(res.body)) as {
      content: { text: string }[];
      usage: Record<string, number>;
    };
    expect(json.content[0]?.text).toContain("Simulated reply");
    const [req] = await simRequests(ns);
    expect(req?.path).toBe(`/bedrock/model/${encodeURIComponent(MODEL)}/invoke`);
    expect(req?.headers.authorization).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=${AWS_TEST_CREDENTIALS.accessKeyId}/\\d{8}/us-east-1/bedrock/aws4_request`,
      ),
    );
    expect(JSON.stringify(req)).not.toContain(TEST_TENANTS.alpha);
    // The body goes as an InvokeModel body: no `model`, `anthropic_version` kept.
    const sent = JSON.parse(req?.body ?? "{}") as Record<string, unknown>;
    expect(sent.model).toBeUndefined();
    expect(sent.anthropic_version).toBe("bedrock-2023-05-31");
  });

  it("InvokeModel: Stoker places cache_control, a second turn reads the cache, and accounting equals the simulator's bill", async () => {
    const { ns, tenant, client } = freshClient(bedrock);
    const turn1 = [{ role: "user", content: "First question about the handbook" }];
    const first = await client.send(
      new InvokeModelCommand({ modelId: MODEL, contentType: "application/json", body: invokeBody(turn1) }),
    );
    const one = JSON.parse(decoder.decode(first.body)) as {
      content: { text: string }[];
      usage: Record<string, number>;
    };
    const turn2 = [
      ...turn1,
      { role: "assistant", content: one.content[0]?.text ?? "" },
      { role: "user", content: "A second question" },
    ];
    const stream = await client.send(
      new InvokeModelWithResponseStreamCommand({
        modelId: MODEL,
        contentType: "application/json",
        body: invokeBody(turn2),
      }),
    );
    let text = "";
    let start: Record<string, number> | undefined;
    let metrics: Record<string, number> | undefined;
    for await (const event of stream.body ?? []) {
      const bytes = event.chunk?.bytes;
      if (!bytes) continue;
      const e = JSON.parse(decoder.decode(bytes)) as {
        type: string;
        message?: { usage: Record<string, number> };
        delta?: { text?: string };
        "amazon-bedrock-invocationMetrics"?: Record<string, number>;
      };
      if (e.type === "message_start") start = e.message?.usage;
      if (e.type === "content_block_delta") text += e.delta?.text ?? "";
      if (e.type === "message_stop") metrics = e["amazon-bedrock-invocationMetrics"];
    }
    expect(text).toContain("Simulated reply for turn 2");
    expect(metrics?.inputTokenCount).toBeGreaterThan(0);
    // The first request wrote the system prompt (Stoker's breakpoint); the second read it.
    expect(one.usage.cache_creation_input_tokens).toBeGreaterThanOrEqual(2500);
    expect(start?.cache_read_input_tokens).toBeGreaterThanOrEqual(2500);
    const reqs = await simRequests(ns);
    expect(reqs[0]?.body).toContain('"cache_control"');
    const bill = (await simStats(ns)).bedrock;
    expect(bill.requests).toBe(2);
    expect(bill.cache_read_input_tokens).toBe(start?.cache_read_input_tokens);

    const figures = await upstreamFigures(tenant.key, "bedrock", 2);
    expectFiguresMatchBill(figures, bill);
    const expected = costOfUsage("claude-sonnet-4-5", {
      inputTokens:
        bill.uncached_input_tokens +
        bill.cache_read_input_tokens +
        bill.cache_write_5m_input_tokens +
        bill.cache_write_1h_input_tokens,
      uncachedTokens: bill.uncached_input_tokens,
      cacheReadTokens: bill.cache_read_input_tokens,
      cacheWrite5mTokens: bill.cache_write_5m_input_tokens,
      cacheWrite1hTokens: bill.cache_write_1h_input_tokens,
      outputTokens: bill.output_tokens,
    });
    expect(Math.abs(figures.cost_usd - expected)).toBeLessThan(1e-6);
  });

  it("Converse and ConverseStream: the client's cachePoint caches the system prompt; usage read to the token", async () => {
    const { ns, tenant, client } = freshClient(bedrock);
    const system = [{ text: SYSTEM }, { cachePoint: { type: "default" as const } }];
    const first = await client.send(
      new ConverseCommand({
        modelId: MODEL,
        system,
        messages: [{ role: "user", content: [{ text: "First question" }] }],
        inferenceConfig: { maxTokens: 200 },
      }),
    );
    expect(first.output?.message?.content?.[0]?.text).toContain("Simulated reply");
    expect(first.usage?.cacheWriteInputTokens).toBeGreaterThanOrEqual(2500);
    const stream = await client.send(
      new ConverseStreamCommand({
        modelId: MODEL,
        system,
        messages: [
          { role: "user", content: [{ text: "First question" }] },
          { role: "assistant", content: first.output?.message?.content ?? [] },
          { role: "user", content: [{ text: "Second question" }] },
        ],
        inferenceConfig: { maxTokens: 200 },
      }),
    );
    let text = "";
    let usage: { cacheReadInputTokens?: number; inputTokens?: number } | undefined;
    let stop: string | undefined;
    for await (const e of stream.stream ?? []) {
      if (e.contentBlockDelta?.delta?.text) text += e.contentBlockDelta.delta.text;
      if (e.messageStop) stop = e.messageStop.stopReason;
      if (e.metadata) usage = e.metadata.usage;
    }
    expect(text).toContain("Simulated reply for turn 2");
    expect(stop).toBe("end_turn");
    expect(usage?.cacheReadInputTokens).toBeGreaterThanOrEqual(2500);
    const bill = (await simStats(ns)).bedrock;
    expect(bill.requests).toBe(2);
    expectFiguresMatchBill(await upstreamFigures(tenant.key, "bedrock", 2), bill);
  });

  it("Converse: Stoker places cachePoint blocks by the Anthropic planner's rules; a second turn reads the cache", async () => {
    const { ns, tenant, client } = freshClient(bedrock);
    const toolConfig = {
      tools: [
        {
          toolSpec: {
            name: "lookup",
            description: "Looks a word up in the handbook",
            inputSchema: { json: { type: "object", properties: { word: { type: "string" } } } },
          },
        },
      ],
    };
    const turn1 = [{ role: "user" as const, content: [{ text: "First question" }] }];
    const first = await client.send(
      new ConverseCommand({ modelId: MODEL, system: [{ text: SYSTEM }], toolConfig, messages: turn1 }),
    );
    const stream = await client.send(
      new ConverseStreamCommand({
        modelId: MODEL,
        system: [{ text: SYSTEM }],
        toolConfig,
        messages: [
          ...turn1,
          { role: "assistant", content: first.output?.message?.content ?? [] },
          { role: "user", content: [{ text: "Second question" }] },
        ],
      }),
    );
    let usage: { cacheReadInputTokens?: number } | undefined;
    for await (const e of stream.stream ?? []) if (e.metadata) usage = e.metadata.usage;
    const reqs = await simRequests(ns);
    const sent = JSON.parse(reqs[0]?.body ?? "{}") as { system: Record<string, unknown>[] };
    // The client sent no cachePoint; Stoker put one after the system prompt (at least), and nothing else changed.
    // (A new tenant's head is written for the hour: `ttl: "1h"` beside the type.)
    expect(sent.system).toEqual([{ text: SYSTEM }, { cachePoint: { type: "default", ttl: "1h" } }]);
    expect(first.usage?.cacheWriteInputTokens).toBeGreaterThanOrEqual(2500);
    expect(usage?.cacheReadInputTokens).toBeGreaterThanOrEqual(2500);
    expect(reqs[0]?.headers["x-stoker-plan"]).toBeUndefined();
    const bill = (await simStats(ns)).bedrock;
    expectFiguresMatchBill(await upstreamFigures(tenant.key, "bedrock", 2), bill);
  });

  it("Converse: over five turns the growing conversation is cached, not only the system prompt (Bedrock's per-checkpoint minimum)", async () => {
    const { tenant, client } = freshClient(bedrock);
    const system = [{ text: SYSTEM }];
    await expectConversationCached(tenant.key, async (turns) => {
      const res = await client.send(
        new ConverseCommand({
          modelId: MODEL,
          system,
          messages: turns.map(({ role, text }) => ({ role, content: [{ text }] })),
          inferenceConfig: { maxTokens: 200 },
        }),
      );
      return {
        text: res.output?.message?.content?.[0]?.text ?? "",
        read: res.usage?.cacheReadInputTokens ?? 0,
      };
    });
  });

  it("InvokeModel: over five turns the growing conversation is cached, not only the system prompt", async () => {
    const { tenant, client } = freshClient(bedrock);
    await expectConversationCached(tenant.key, async (turns) => {
      const res = await client.send(
        new InvokeModelCommand({
          modelId: MODEL,
          contentType: "application/json",
          body: invokeBody(turns.map(({ role, text }) => ({ role, content: text }))),
        }),
      );
      const json = JSON.parse(decoder.decode(res.body)) as {
        content: { text: string }[];
        usage: { cache_read_input_tokens?: number };
      };
      return { text: json.content[0]?.text ?? "", read: json.usage.cache_read_input_tokens ?? 0 };
    });
  });

  it("an inference profile ARN as the model id: routed and planned as its Claude model", async () => {
    const ns = namespace();
    const arn = `arn:aws:bedrock:us-east-1:123456789012:inference-profile/${MODEL}`;
    const res = await bedrock(ns).send(
      new InvokeModelCommand({
        modelId: arn,
        contentType: "application/json",
        body: invokeBody([{ role: "user", content: "Hello there" }]),
      }),
    );
    expect(res.$metadata.httpStatusCode).toBe(200);
    const [req] = await simRequests(ns);
    expect(req?.path).toBe(`/bedrock/model/${encodeURIComponent(arn)}/invoke`);
    // Planned like any Claude request: Stoker placed cache_control on the long system prompt.
    expect(req?.body).toContain('"cache_control"');
  });

  it("another vendor's InvokeModel body goes upstream byte for byte, and Bedrock's answer comes back as it was", async () => {
    const ns = namespace();
    const body = '{"inputText": "Hello",  "textGenerationConfig": {"maxTokenCount": 20}}';
    const err = await failure(
      bedrock(ns).send(
        new InvokeModelCommand({
          modelId: "amazon.titan-text-express-v1",
          contentType: "application/json",
          body: encoder.encode(body),
        }),
      ),
    );
    // The simulator serves Claude models only: its ValidationException reaches the SDK unchanged.
    expect(err.name).toBe("ValidationException");
    expect(err.message).toContain("model identifier is invalid");
    const [req] = await simRequests(ns);
    expect(req?.body).toBe(body);
  });

  it("bad input: a 400 ValidationException in Bedrock's shape, nothing sent upstream", async () => {
    const ns = namespace();
    const err = await failure(
      bedrock(ns).send(new ConverseCommand({ modelId: MODEL, messages: "nope" as never })),
    );
    expect(err.name).toBe("ValidationException");
    expect(err.$metadata.httpStatusCode).toBe(400);
    const raw = await workerFetch(`${STOKER}/bedrock/model/${MODEL}/invoke`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${TEST_TENANTS.alpha}`,
        "content-type": "application/json",
        "x-sim-namespace": ns,
      },
      body: "{not json",
    });
    expect(raw.status).toBe(400);
    expect(raw.headers.get("x-amzn-errortype")).toBe("ValidationException");
    expect(Object.keys((await raw.json()) as object)).toEqual(["message"]);
    expect(await simRequests(ns)).toHaveLength(0);
  });

  it("an unknown tenant key is refused in Bedrock's shape", async () => {
    const ns = namespace();
    const err = await failure(
      bedrock(ns, { apiKey: "sk-stoker-nobody" }).send(
        new ConverseCommand({ modelId: MODEL, messages: [{ role: "user", content: [{ text: "hi" }] }] }),
      ),
    );
    expect(err.name).toBe("UnrecognizedClientException");
    expect(err.$metadata.httpStatusCode).toBe(401);
    expect(await simRequests(ns)).toHaveLength(0);
  });

  it("pass-through: the client's own Bedrock API key goes upstream, the tenant key in x-stoker-key never does", async () => {
    const ns = namespace();
    const own = "ABSKbedrock-own-key-of-the-client";
    const res = await bedrock(ns, { apiKey: own, headers: { "x-stoker-key": TEST_TENANTS.alpha } }).send(
      new ConverseCommand({ modelId: MODEL, messages: [{ role: "user", content: [{ text: "hi" }] }] }),
    );
    expect(res.output?.message?.content?.[0]?.text).toContain("Simulated reply");
    const [req] = await simRequests(ns);
    expect(req?.headers.authorization).toBe(`Bearer ${own}`);
    expect(JSON.stringify(req)).not.toContain(TEST_TENANTS.alpha);
  });

  it("managed with the tenant's own AWS credentials, then its own Bedrock API key (admin API), then the deploy's after they are cleared", async () => {
    const t = await adminTenant();
    const secret = "stoker-simulator-tenant-secret-key-000000";
    const set = await admin("PUT", `/v1/admin/tenants/${t.id}/provider-keys`, {
      bedrock: { access_key_id: "AKIASTOKERTENANT0001", secret_access_key: secret },
    });
    expect(set.status).toBe(200);
    expect(TenantSchema.parse(set.body).provider_key_state.bedrock).toBe("set");
    expect(JSON.stringify(set.body)).not.toContain(secret);
    const call = async () => {
      const ns = namespace();
      const res = await bedrock(ns, { apiKey: t.key }).send(
        new ConverseCommand({ modelId: MODEL, messages: [{ role: "user", content: [{ text: "hi" }] }] }),
      );
      expect(res.output?.message?.content?.[0]?.text).toContain("Simulated reply");
      const [req] = await simRequests(ns);
      expect(JSON.stringify(req)).not.toContain(t.key);
      return req?.headers.authorization ?? "";
    };
    // The simulator checks the signature with the tenant account's secret: a 200 proves it was signed with it.
    expect(await call()).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIASTOKERTENANT0001\//);
    const own = "ABSKtenant-own-bedrock-api-key-0123";
    await admin("PUT", `/v1/admin/tenants/${t.id}/provider-keys`, { bedrock: own });
    expect(await call()).toBe(`Bearer ${own}`);
    await admin("PUT", `/v1/admin/tenants/${t.id}/provider-keys`, { bedrock: null });
    expect(await call()).toMatch(
      new RegExp(`^AWS4-HMAC-SHA256 Credential=${AWS_TEST_CREDENTIALS.accessKeyId}/`),
    );
    const bad = await admin("PUT", `/v1/admin/tenants/${t.id}/provider-keys`, {
      bedrock: { access_key_id: "not an id", secret_access_key: secret },
    });
    expect(bad.status).toBe(400);
  });

  it("passes an upstream ThrottlingException through, and ends a cut stream with an exception the SDK raises", async () => {
    const ns = namespace();
    await simFault(ns, { provider: "bedrock", status: 429, count: 1 });
    const limited = await failure(
      bedrock(ns).send(
        new ConverseCommand({ modelId: MODEL, messages: [{ role: "user", content: [{ text: "hi" }] }] }),
      ),
    );
    expect(limited.name).toBe("ThrottlingException");
    expect(limited.$metadata.httpStatusCode).toBe(429);
    await simFault(ns, { provider: "bedrock", truncate_after_events: 2, count: 1 });
    const stream = await bedrock(ns).send(
      new ConverseStreamCommand({
        modelId: MODEL,
        messages: [{ role: "user", content: [{ text: "Tell me a long story please" }] }],
      }),
    );
    const seen: string[] = [];
    const broke = await failure(
      (async () => {
        for await (const e of stream.stream ?? []) seen.push(Object.keys(e)[0] ?? "");
      })(),
    );
    expect(seen).toEqual(["messageStart", "contentBlockDelta"]);
    expect(broke.name).toBe("InternalServerException");
    expect(broke.message).toContain("ended early");
  });
});

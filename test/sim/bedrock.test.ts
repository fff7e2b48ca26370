import { BedrockRuntimeClient, ConverseCommand } from "@aws-sdk/client-bedrock-runtime";
import { EventStreamCodec } from "@smithy/core/event-streams";
import { HttpResponse } from "@smithy/core/transport";
import { AwsV4Signer } from "aws4fetch";
import { describe, expect, it } from "vitest";
import { SIM_AWS_CREDENTIALS } from "../../sim/bedrock/auth.ts";
import { allowsOneHour, checkpointMinimum, claudeModel } from "../../sim/bedrock/models.ts";
import { freshNs, type Json, simulator, text } from "../support/sim.ts";

// Rules and sources: sim/bedrock/models.ts and sim/README.md "Bedrock".
const SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0";
const OLD = "anthropic.claude-3-7-sonnet-20250219-v1:0";
const path = (model: string, op: string) => `/bedrock/model/${encodeURIComponent(model)}/${op}`;
const bearer = (ns: string) => ({ authorization: "Bearer sim-test-key", "x-sim-namespace": ns });

const converse = (system: Json[], messages: Json[] = [{ role: "user", content: [{ text: "Hello" }] }]) => ({
  system,
  messages,
  inferenceConfig: { maxTokens: 50 },
});

const codec = new EventStreamCodec(
  (b) => new TextDecoder().decode(b),
  (s) => new TextEncoder().encode(s),
);

/** Splits an event-stream body into its messages and decodes each with the AWS SDK's codec. */
async function frames(res: Response): Promise<{ type: string; payload: Json }[]> {
  const bytes = new Uint8Array(await res.arrayBuffer());
  const out: { type: string; payload: Json }[] = [];
  for (let at = 0; at < bytes.byteLength; ) {
    const length = new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0);
    const m = codec.decode(bytes.subarray(at, at + length));
    out.push({
      type: String(m.headers[":event-type"]?.value),
      payload: JSON.parse(new TextDecoder().decode(m.body)),
    });
    at += length;
  }
  return out;
}

describe("Bedrock simulator: authentication", () => {
  const [keyId, secret] = Object.entries(SIM_AWS_CREDENTIALS)[0] as [string, string];
  const signed = async (body: string, secretKey: string, accessKeyId = keyId) => {
    const s = await new AwsV4Signer({
      method: "POST",
      url: `http://localhost${path(SONNET, "converse")}`,
      headers: { "content-type": "application/json" },
      body,
      accessKeyId,
      secretAccessKey: secretKey,
      service: "bedrock",
      region: "us-east-1",
    }).sign();
    return Object.fromEntries(s.headers);
  };

  it("accepts a valid SigV4 signature and refuses a wrong secret, an unknown key, a changed body and no auth", async () => {
    const sim = simulator();
    const ns = freshNs();
    const body = JSON.stringify(converse([{ text: "Be brief." }]));
    const ok = await sim.post(path(SONNET, "converse"), body, {
      ...(await signed(body, secret)),
      "x-sim-namespace": ns,
    });
    expect(ok.status).toBe(200);
    const cases: [Record<string, string>, string, string][] = [
      [await signed(body, "not-the-secret"), body, "InvalidSignatureException"],
      [await signed(body, secret, "AKIAUNKNOWNKEY000001"), body, "UnrecognizedClientException"],
      [await signed(body, secret), body.replace("brief", "short"), "InvalidSignatureException"],
      [{}, body, "MissingAuthenticationTokenException"],
    ];
    for (const [headers, sent, type] of cases) {
      const res = await sim.post(path(SONNET, "converse"), sent, { ...headers, "x-sim-namespace": ns });
      expect(res.status).toBe(403);
      expect(res.headers.get("x-amzn-errortype")).toMatch(new RegExp(`^${type}:`));
      expect(Object.keys((await res.json()) as object)).toEqual(["message"]);
    }
    const stats = await sim.getJson(`/__sim/stats?ns=${ns}`);
    expect(stats.bedrock.requests).toBe(1);
  });
});

describe("Bedrock simulator: the AWS SDK's own SigV4", () => {
  it("accepts a request the AWS SDK signed (its canonical request is the one the check rebuilds), refuses it with another secret", async () => {
    const sim = simulator();
    const ns = freshNs();
    const [accessKeyId, secretAccessKey] = Object.entries(SIM_AWS_CREDENTIALS)[0] as [string, string];
    const client = (secret: string) =>
      new BedrockRuntimeClient({
        region: "us-east-1",
        endpoint: "http://localhost/bedrock",
        credentials: { accessKeyId, secretAccessKey: secret },
        maxAttempts: 1,
        defaultUserAgentProvider: async () => [["stoker-test"]],
        requestHandler: {
          async handle(req: {
            path: string;
            method: string;
            headers: Record<string, string>;
            body?: BodyInit;
          }) {
            const res = await sim.app.request(req.path, {
              method: req.method,
              headers: { ...req.headers, "x-sim-namespace": ns },
              body: req.body ?? null,
            });
            const headers: Record<string, string> = {};
            res.headers.forEach((v, k) => {
              headers[k] = v;
            });
            return { response: new HttpResponse({ statusCode: res.status, headers, body: res.body }) };
          },
          updateHttpClientConfig() {},
          httpHandlerConfigs: () => ({}),
        },
      });
    const command = () =>
      new ConverseCommand({
        modelId: `us.${SONNET}`,
        messages: [{ role: "user", content: [{ text: "hi" }] }],
      });
    const ok = await client(secretAccessKey).send(command());
    expect(ok.output?.message?.content?.[0]?.text).toContain("Simulated reply");
    const [req] = (await sim.getJson(`/__sim/requests?ns=${ns}`)).requests;
    // The SDK signs more than Stoker does (its own headers, the payload hash): all of them were checked.
    expect(req.headers.authorization).toMatch(/SignedHeaders=[a-z0-9;-]*x-amz-content-sha256/);
    const refused = await client("another-secret")
      .send(command())
      .catch((e: { name: string }) => e);
    expect((refused as { name: string }).name).toBe("InvalidSignatureException");
  });
});

describe("Bedrock simulator: caching (Claude models)", () => {
  it("maps model ids and tables: minimum 1,024 on Sonnet 4.5, 1h only from Claude 4.5", () => {
    expect(claudeModel(SONNET)).toBe("claude-sonnet-4-5-20250929");
    expect(claudeModel(`us.${SONNET}`)).toBe("claude-sonnet-4-5-20250929");
    expect(claudeModel("amazon.nova-pro-v1:0")).toBeNull();
    expect(checkpointMinimum("claude-sonnet-4-5-20250929")).toBe(1024);
    expect(allowsOneHour("claude-sonnet-4-5-20250929")).toBe(true);
    expect(allowsOneHour("claude-3-7-sonnet-20250219")).toBe(false);
  });

  it("needs the minimum since the previous checkpoint: a second checkpoint 600 tokens later caches nothing", async () => {
    const sim = simulator();
    const ns = freshNs();
    const system = [{ text: text(1500, "a") }, { cachePoint: { type: "default" } }];
    const messages = [
      { role: "user", content: [{ text: text(600, "b") }, { cachePoint: { type: "default" } }] },
    ];
    const first = await sim.postJson(path(SONNET, "converse"), converse(system, messages), bearer(ns));
    expect(first.status).toBe(200);
    // Anthropic's API would write through the second marker (2,100 tokens); Bedrock's rule stops at 1,500.
    expect(first.json.usage.cacheWriteInputTokens).toBe(1500);
    expect(first.json.usage.inputTokens).toBe(600);
    expect(first.json.usage.cacheDetails).toEqual([{ ttl: "5m", inputTokens: 1500 }]);
    const second = await sim.postJson(path(SONNET, "converse"), converse(system, messages), bearer(ns));
    expect(second.json.usage.cacheReadInputTokens).toBe(1500);
    expect(second.json.usage.cacheWriteInputTokens).toBe(0);
    expect(second.json.usage.totalTokens).toBe(1500 + 600 + second.json.usage.outputTokens);
  });

  it("refuses a fifth cache point, and a 1h TTL on a model without it; writes 1h where it exists", async () => {
    const sim = simulator();
    const ns = freshNs();
    const five = Array.from({ length: 5 }, (_, i) => [
      { text: text(1100, `s${i}`) },
      { cachePoint: { type: "default" } },
    ]).flat();
    const tooMany = await sim.postJson(path(SONNET, "converse"), converse(five), bearer(ns));
    expect(tooMany.status).toBe(400);
    expect(tooMany.headers.get("x-amzn-errortype")).toMatch(/^ValidationException:/);
    const hour = [{ text: text(1200, "h") }, { cachePoint: { type: "default", ttl: "1h" } }];
    const old = await sim.postJson(path(OLD, "converse"), converse(hour), bearer(ns));
    expect(old.status).toBe(400);
    const ok = await sim.postJson(path(SONNET, "converse"), converse(hour), bearer(ns));
    expect(ok.json.usage.cacheDetails).toEqual([{ ttl: "1h", inputTokens: 1200 }]);
    const stats = await sim.getJson(`/__sim/stats?ns=${ns}`);
    expect(stats.bedrock.cache_write_1h_input_tokens).toBe(1200);
    expect(stats.bedrock.errors).toBe(2);
  });
});

describe("Bedrock simulator: InvokeModel and streams", () => {
  const claudeBody = (extra: Json = {}) => ({
    anthropic_version: "bedrock-2023-05-31",
    max_tokens: 50,
    system: [{ type: "text", text: text(1200, "p"), cache_control: { type: "ephemeral" } }],
    messages: [{ role: "user", content: "Hi" }],
    ...extra,
  });

  it("invoke: the Anthropic body without model; anthropic_version required; usage in the body and headers", async () => {
    const sim = simulator();
    const ns = freshNs();
    const res = await sim.postJson(path(SONNET, "invoke"), claudeBody(), bearer(ns));
    expect(res.status).toBe(200);
    expect(res.json.usage.cache_creation_input_tokens).toBe(1200);
    expect(res.json.diagnostics).toBeUndefined();
    expect(res.headers.get("x-amzn-bedrock-cache-write-input-token-count")).toBe("1200");
    const noVersion = await sim.postJson(
      path(SONNET, "invoke"),
      { ...claudeBody(), anthropic_version: undefined },
      bearer(ns),
    );
    expect(noVersion.status).toBe(400);
    expect(noVersion.json.message).toContain("anthropic_version");
    const withModel = await sim.postJson(path(SONNET, "invoke"), claudeBody({ model: "claude" }), bearer(ns));
    expect(withModel.status).toBe(400);
  });

  it("invoke-with-response-stream: chunk events carrying base64 Anthropic events, metrics on message_stop", async () => {
    const sim = simulator();
    const ns = freshNs();
    const res = await sim.post(path(SONNET, "invoke-with-response-stream"), claudeBody(), bearer(ns));
    expect(res.headers.get("content-type")).toBe("application/vnd.amazon.eventstream");
    const events = (await frames(res)).map((f) => {
      expect(f.type).toBe("chunk");
      return JSON.parse(atob(f.payload.bytes)) as Json;
    });
    expect(events[0].type).toBe("message_start");
    expect(events[0].message.usage.cache_creation_input_tokens).toBe(1200);
    expect(events.some((e) => e.type === "ping")).toBe(false);
    const stop = events.at(-1);
    expect(stop.type).toBe("message_stop");
    expect(stop["amazon-bedrock-invocationMetrics"].cacheWriteInputTokenCount).toBe(1200);
  });

  it("converse-stream: messageStart, deltas, messageStop, then metadata with the usage", async () => {
    const sim = simulator();
    const ns = freshNs();
    const res = await sim.post(
      path(SONNET, "converse-stream"),
      converse([{ text: "Be brief." }]),
      bearer(ns),
    );
    const list = await frames(res);
    expect(list[0]?.type).toBe("messageStart");
    expect(list.at(-2)?.type).toBe("messageStop");
    expect(list.at(-1)?.type).toBe("metadata");
    const text = list
      .filter((f) => f.type === "contentBlockDelta")
      .map((f) => f.payload.delta.text)
      .join("");
    expect(text).toContain("Simulated reply");
    expect(list.at(-1)?.payload.usage.inputTokens).toBeGreaterThan(0);
  });
});

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import { longText, namespace, simRequests } from "../support/clients.ts";
import { freshTenant } from "../support/tenants.ts";
import { totalsAfter } from "../support/tracker.ts";

// Over the analysis budget in bytes (issue 18), a body is forwarded as its bytes: only its top level is read,
// never JSON.parse of the whole. The budget is 256 KiB here, the bodies about 1 MiB.
const budgetEnv = { ...env, ANALYSIS_MAX_BYTES: String(256 * 1024) } as Env;

/** About 1 MiB of Anthropic messages as JSON text (an array), with `inner` spliced into the last block. */
function bigMessages(inner = ""): string {
  const turns = Array.from({ length: 64 }, (_, i) => ({
    role: i % 2 === 0 ? "user" : "assistant",
    content: [{ type: "text", text: `${i} ${longText(2400, `w${i}`)}` }],
  }));
  turns.push({ role: "user", content: [{ type: "text", text: "and?" }] });
  const json = JSON.stringify(turns);
  return inner ? `${json.slice(0, -4)}${inner}}]}]` : json;
}

async function send(path: string, body: string | Uint8Array, key: string, ns: string) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`http://stoker.test${path}`, {
      method: "POST",
      headers: {
        "x-api-key": key,
        authorization: `Bearer ${key}`,
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "x-sim-namespace": ns,
      },
      body,
    }),
    budgetEnv,
    ctx,
  );
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, headers: res.headers, text };
}

describe("over the byte budget the body is not parsed whole", { timeout: 30_000 }, () => {
  it("a syntax error deep inside a large value is the provider's to answer (Stoker did not parse it), and is accounted", async () => {
    const t = freshTenant();
    const ns = namespace();
    // A trailing comma inside the last content block: JSON.parse refuses it, a structural scan crosses it.
    const body = `{"model":"claude-sonnet-4-6","max_tokens":8,"messages":${bigMessages(',"x":1,')}}`;
    expect(body.length).toBeGreaterThan(512 * 1024);
    expect(() => JSON.parse(body)).toThrow(SyntaxError);
    const res = await send("/anthropic/v1/messages", body, t.key, ns);
    expect(res.headers.get("x-stoker-upstream"), res.text.slice(0, 300)).toBe("simulator");
    expect(res.headers.get("x-stoker-analysis")).toBe("skipped-over-budget-bytes");
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    const [sent] = await simRequests(ns);
    expect(sent?.body === body).toBe(true);
    expect((await totalsAfter(t.id, 1)).requests).toBe(1);
  });

  it("a valid large body goes byte for byte, streamed back and accounted from usage", async () => {
    const t = freshTenant();
    const ns = namespace();
    const body = `{"model":"claude-sonnet-4-6","max_tokens":8,"stream":true,"messages":${bigMessages()}}`;
    const res = await send("/anthropic/v1/messages", body, t.key, ns);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-stoker-analysis")).toBe("skipped-over-budget-bytes");
    expect(res.text).toContain("event: message_stop");
    expect((await simRequests(ns))[0]?.body === body).toBe(true);
    const totals = await totalsAfter(t.id, 1);
    expect(totals.requests).toBe(1);
    expect(totals.inputTokens).toBeGreaterThan(100_000);
  });

  it("Chat Completions: include_usage is spliced into the bytes, the client's stream is unchanged, usage accounted", async () => {
    const t = freshTenant();
    const ns = namespace();
    const messages = bigMessages();
    for (const [options, sentOptions] of [
      ["", { include_usage: true }],
      [
        ',"stream_options":{"include_obfuscation":false}',
        { include_obfuscation: false, include_usage: true },
      ],
    ] as const) {
      const body = `{"model":"gpt-4.1","stream":true${options},"messages":${messages}}`;
      const res = await send("/openai/v1/chat/completions", body, t.key, ns);
      expect(res.status).toBe(200);
      expect(res.headers.get("x-stoker-analysis")).toBe("skipped-over-budget-bytes");
      expect(res.text).toContain("data: [DONE]");
      expect(res.text).not.toContain('"usage"');
      const sent = (await simRequests(ns)).at(-1);
      const forwarded = JSON.parse(sent?.body ?? "{}") as Record<string, unknown>;
      expect(forwarded.stream_options).toEqual(sentOptions);
      // Only stream_options changed: the rest are the client's bytes.
      expect(sent?.body.endsWith(`"messages":${messages}}`)).toBe(true);
    }
    const totals = await totalsAfter(t.id, 2);
    expect(totals.requests).toBe(2);
    expect(totals.inputTokens).toBeGreaterThan(100_000);
  });

  it("the top level is still validated by Stoker: same 400s, nothing forwarded", async () => {
    const t = freshTenant();
    const ns = namespace();
    const messages = bigMessages();
    const cases: [string | Uint8Array, RegExp][] = [
      [`{"max_tokens":8,"messages":${messages}}`, /model: Field required/],
      [`{"model":"","max_tokens":8,"messages":${messages}}`, /model: must be a non-empty string/],
      [`{"model":"claude-sonnet-4-6","messages":{"a":${messages}}}`, /messages: must be an array/],
      [`{"model":"claude-sonnet-4-6","stream":"yes","messages":${messages}}`, /stream: must be a boolean/],
      [`[${messages}]`, /must be a JSON object/],
      [`{"model":"claude-sonnet-4-6","messages":${messages}} trailing`, /not valid JSON/],
      [`{"model":"claude-sonnet-4-6","messages":${messages}`, /not valid JSON/],
      [`{"model":"claude-sonnet-4-6" "messages":${messages}}`, /not valid JSON/],
      [`{"model":claude,"messages":${messages}}`, /not valid JSON/],
      [`{"model":"claude-sonnet-4-6","messages":${messages.slice(0, -1)}}`, /not valid JSON/],
    ];
    const bad = new TextEncoder().encode(`{"model":"claude-sonnet-4-6","messages":${messages}}`);
    bad[bad.length - 100] = 0xff;
    cases.push([bad, /not valid UTF-8/]);
    for (const [body, message] of cases) {
      const res = await send("/anthropic/v1/messages", body, t.key, ns);
      expect(res.status, String(message)).toBe(400);
      expect(res.headers.get("x-stoker-upstream")).toBeNull();
      const json = JSON.parse(res.text) as { type: string; error: { type: string; message: string } };
      expect(json.type).toBe("error");
      expect(json.error.type).toBe("invalid_request_error");
      expect(json.error.message).toMatch(message);
    }
    expect(await simRequests(ns)).toEqual([]);
  });

  it("Responses under the shared key: a tagged previous_response_id is untagged in the bytes, a deep file_id refused", async () => {
    const t = freshTenant();
    const ns = namespace();
    const first = await send("/openai/v1/responses", '{"model":"gpt-4o","input":"hi"}', t.key, ns);
    const tagged = (JSON.parse(first.text) as { id: string }).id;
    expect(tagged).toMatch(/~/);
    const input = bigMessages();
    const body = `{"model":"gpt-4o","previous_response_id":${JSON.stringify(tagged)},"input":${input}}`;
    const res = await send("/openai/v1/responses", body, t.key, ns);
    expect(res.headers.get("x-stoker-analysis")).toBe("skipped-over-budget-bytes");
    expect(res.headers.get("x-stoker-upstream")).toBe("simulator");
    const sent = (await simRequests(ns)).at(-1);
    expect(sent?.body).toBe(body.replace(JSON.stringify(tagged), JSON.stringify(tagged.split("~")[0])));

    const other = namespace();
    const stolen = await send("/openai/v1/responses", body, freshTenant().key, other);
    expect(stolen.status).toBe(400);
    expect(JSON.parse(stolen.text).error.code).toBe("previous_response_not_found");
    for (const key of ['"file_id"', '"file\\u005fid"']) {
      const withFile = `{"model":"gpt-4o","input":${bigMessages(`,${key}:"file-abc"`)}}`;
      const refused = await send("/openai/v1/responses", withFile, t.key, other);
      expect(refused.status, key).toBe(400);
      expect(JSON.parse(refused.text).error.param).toBe("file_id");
    }
    expect(await simRequests(other)).toEqual([]);
  });
});

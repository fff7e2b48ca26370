import { describe, expect, it } from "vitest";
import { idTags, taggedTopLevel } from "../../src/edge/stored-ids.ts";
import { TopLevelRewriter } from "../../src/upstream/json-relay.ts";
import { admin, adminTenant } from "../support/admin.ts";
import { namespace, openai, STOKER, simRequests, workerFetch } from "../support/clients.ts";
import { TEST_TENANTS } from "../support/tenants.ts";

// Under the deploy's shared OpenAI key, one tenant must not reach another's stored objects (issue 18): the
// response ids Stoker returns carry an HMAC tag under the tenant's salt, and a previous_response_id without
// this tenant's tag is refused before anything goes upstream. The simulator keeps no response state (it
// answers previous_response_id with its own 400), so a forwarded one is checked in what it received.

const TAGGED = /^resp_[A-Za-z0-9]+~[A-Za-z0-9_-]{22}$/;

async function responses(
  key: string,
  ns: string,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  const res = await workerFetch(`${STOKER}/openai/v1/responses`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${key}`,
      "content-type": "application/json",
      "x-sim-namespace": ns,
      ...headers,
    },
    body: JSON.stringify({ model: "gpt-4o", input: "hi", ...body }),
  });
  return { status: res.status, upstream: res.headers.get("x-stoker-upstream"), text: await res.text() };
}

describe("stored-object ids with the deploy's shared OpenAI key", () => {
  it("response ids come back tagged, in JSON and in every stream event that carries the response", async () => {
    const client = openai(namespace(), { apiKey: TEST_TENANTS.alpha });
    const json = await client.responses.create({ model: "gpt-4o", input: "hi" });
    expect(json.id).toMatch(TAGGED);
    const stream = await client.responses.create({ model: "gpt-4o", input: "hi", stream: true });
    const ids = new Set<string>();
    for await (const e of stream) if ("response" in e) ids.add(e.response.id);
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(TAGGED);
    expect([...ids][0]).not.toBe(json.id);
  });

  it("the tenant's own tagged id is forwarded with the tag stripped; another tenant's is refused in OpenAI's shape", async () => {
    const first = await openai(namespace(), { apiKey: TEST_TENANTS.alpha }).responses.create({
      model: "gpt-4o",
      input: "hi",
    });
    const untagged = first.id.slice(0, first.id.indexOf("~"));

    const own = namespace();
    const mine = await responses(TEST_TENANTS.alpha, own, { previous_response_id: first.id });
    expect(mine.upstream).toBe("simulator");
    const [sent] = await simRequests(own);
    expect(JSON.parse(sent?.body ?? "{}").previous_response_id).toBe(untagged);

    for (const stolen of [first.id, untagged, `${untagged}~${"A".repeat(22)}`, 42]) {
      const other = namespace();
      const res = await responses(TEST_TENANTS.beta, other, { previous_response_id: stolen });
      expect(res.status).toBe(400);
      expect(res.upstream).toBeNull();
      expect(JSON.parse(res.text)).toEqual({
        error: {
          message: `Previous response with id '${stolen}' not found.`,
          type: "invalid_request_error",
          param: "previous_response_id",
          code: "previous_response_not_found",
        },
      });
      expect(await simRequests(other)).toEqual([]);
    }
  });

  it("file ids and conversations (APIs Stoker does not proxy) are refused, on Responses and Chat", async () => {
    const ns = namespace();
    const file = [{ role: "user", content: [{ type: "input_file", file_id: "file-abc123" }] }];
    const r1 = await responses(TEST_TENANTS.alpha, ns, { input: file });
    expect(r1.status).toBe(400);
    expect(JSON.parse(r1.text).error.param).toBe("file_id");
    const escaped = JSON.stringify({ model: "gpt-4o", input: file }).replace("file_id", "file\\u005fid");
    const r2 = await workerFetch(`${STOKER}/openai/v1/responses`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${TEST_TENANTS.alpha}`,
        "content-type": "application/json",
        "x-sim-namespace": ns,
      },
      body: escaped,
    });
    expect(r2.status).toBe(400);
    const r3 = await responses(TEST_TENANTS.alpha, ns, { conversation: "conv_123" });
    expect(r3.status).toBe(400);
    expect(JSON.parse(r3.text).error.param).toBe("conversation");
    const chat = await workerFetch(`${STOKER}/openai/v1/chat/completions`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${TEST_TENANTS.alpha}`,
        "content-type": "application/json",
        "x-sim-namespace": ns,
      },
      body: JSON.stringify({
        model: "gpt-4o",
        messages: [{ role: "user", content: [{ type: "file", file: { file_id: "file-abc123" } }] }],
      }),
    });
    expect(chat.status).toBe(400);
    expect(await simRequests(ns)).toEqual([]);
  });

  it("a later turn read after its kept body is searched for file ids in what is new, and in the history of a refused turn", async () => {
    // Over 32 KB (body-memo.ts MIN_CHARS), so each turn is read after the last one the isolate kept, and
    // only bytes after what a clean kept body had are searched (stored-ids.ts).
    const t = await adminTenant();
    const ns = namespace();
    const chat = (messages: unknown[], escaped = false) => {
      const text = JSON.stringify({ model: "gpt-4o", messages });
      return workerFetch(`${STOKER}/openai/v1/chat/completions`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${t.key}`,
          "content-type": "application/json",
          "x-sim-namespace": ns,
        },
        body: escaped ? text.replace("file_id", "file\\u005fid") : text,
      });
    };
    const history = [
      { role: "system", content: `You review code. ${"Keep each answer short and exact. ".repeat(1500)}` },
      { role: "user", content: "q1" },
    ];
    const file = { role: "user", content: [{ type: "file", file: { file_id: "file-abc123" } }] };
    expect((await chat(history)).status).toBe(200);
    const withFile = [...history, { role: "assistant", content: "a1" }, file];
    for (const escaped of [true, false]) {
      const refused = await chat(withFile, escaped);
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { error: { param: string } }).error.param).toBe("file_id");
    }
    // The refused turn was kept too (the unescaped one last): its next turn repeats a body never found clean.
    const after = await chat([
      ...withFile,
      { role: "assistant", content: "a2" },
      { role: "user", content: "q3" },
    ]);
    expect(after.status).toBe(400);
    expect(
      (await chat([...history, { role: "assistant", content: "a1" }, { role: "user", content: "q2" }]))
        .status,
    ).toBe(200);
    expect((await simRequests(ns)).length).toBe(2);
  });

  it("pass-through and a tenant's own OpenAI key: ids untagged, previous_response_id and file_id forwarded as sent", async () => {
    const pass = namespace();
    const passHeaders = { "x-stoker-key": TEST_TENANTS.alpha };
    const r = await workerFetch(`${STOKER}/openai/v1/responses`, {
      method: "POST",
      headers: {
        authorization: "Bearer sk-openai-clients-own",
        "content-type": "application/json",
        "x-sim-namespace": pass,
        ...passHeaders,
      },
      body: JSON.stringify({ model: "gpt-4o", input: "hi" }),
    });
    expect(((await r.json()) as { id: string }).id).toMatch(/^resp_[A-Za-z0-9]+$/);

    const t = await adminTenant();
    expect(
      (await admin("PUT", `/v1/admin/tenants/${t.id}/provider-keys`, { openai: "sk-openai-tenant-own" }))
        .status,
    ).toBe(200);
    const own = namespace();
    const json = await openai(own, { apiKey: t.key }).responses.create({ model: "gpt-4o", input: "hi" });
    expect(json.id).toMatch(/^resp_[A-Za-z0-9]+$/);
    const res = await responses(t.key, own, {
      previous_response_id: "resp_someone",
      input: [{ role: "user", content: [{ type: "input_file", file_id: "file-abc123" }] }],
    });
    expect(res.upstream).toBe("simulator");
    const sent = JSON.parse((await simRequests(own)).at(-1)?.body ?? "{}");
    expect(sent.previous_response_id).toBe("resp_someone");
    expect(JSON.stringify(sent.input)).toContain("file-abc123");
  });
});

describe("tagging a JSON answer as it flows", () => {
  it("rewrites only the top-level id and previous_response_id, whatever the chunking", () => {
    const tags = idTags("salt");
    const answer = JSON.stringify({
      id: "resp_1",
      object: "response",
      output: [{ id: "msg_1", type: "message", content: [{ type: "output_text", text: 'say "id": "x"' }] }],
      previous_response_id: "resp_0",
      usage: { input_tokens: 3 },
    });
    const want = JSON.stringify({
      ...JSON.parse(answer),
      id: tags.tag("resp_1"),
      previous_response_id: tags.tag("resp_0"),
    });
    for (const size of [1, 2, 3, 7, 1000]) {
      const r = new TopLevelRewriter(taggedTopLevel(tags));
      let out = "";
      for (let i = 0; i < answer.length; i += size) out += r.push(answer.slice(i, i + size));
      expect(out, `chunks of ${size}`).toBe(want);
    }
    const nullPrevious = JSON.stringify({ id: "resp_2", previous_response_id: null });
    expect(new TopLevelRewriter(taggedTopLevel(tags)).push(nullPrevious)).toBe(
      JSON.stringify({ id: tags.tag("resp_2"), previous_response_id: null }),
    );
  });
});

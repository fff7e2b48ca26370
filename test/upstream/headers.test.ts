import { describe, expect, it } from "vitest";
import { clientResponseHeaders, upstreamRequestHeaders } from "../../src/upstream/headers.ts";

const entries = (h: Headers) => [...h];

describe("the headers that go on (upstream/headers.ts)", () => {
  it("gives the client the upstream's headers less hop-by-hop, encoding, cf- and cookies", () => {
    const upstream = new Headers([
      ["content-type", "application/json"],
      ["content-length", "42"],
      ["content-encoding", "gzip"],
      ["connection", "keep-alive"],
      ["transfer-encoding", "chunked"],
      ["cf-ray", "abc"],
      ["cf-cache-status", "DYNAMIC"],
      ["set-cookie", "a=1"],
      ["request-id", "req_1"],
      ["anthropic-ratelimit-requests-remaining", "99"],
      ["x-multi", "one"],
    ]);
    upstream.append("set-cookie", "b=2");
    upstream.append("x-multi", "two");
    expect(entries(clientResponseHeaders(upstream))).toEqual([
      ["anthropic-ratelimit-requests-remaining", "99"],
      ["content-type", "application/json"],
      ["request-id", "req_1"],
      ["x-multi", "one, two"],
    ]);
    // The upstream's own headers are left as they were.
    expect(upstream.get("cf-ray")).toBe("abc");
  });

  it("sends upstream the client's headers less hop-by-hop and private ones, its key replaced in managed mode", () => {
    const incoming = new Headers([
      ["content-type", "application/json"],
      ["anthropic-version", "2023-06-01"],
      ["anthropic-beta", "a,b"],
      ["x-api-key", "sk-stoker-tenant"],
      ["authorization", "Bearer sk-stoker-tenant"],
      ["openai-organization", "org-1"],
      ["host", "stoker.example"],
      ["content-length", "10"],
      ["cf-connecting-ip", "1.2.3.4"],
      ["x-forwarded-for", "1.2.3.4"],
      ["x-stoker-plan", "x"],
      ["cookie", "c=1"],
      ["accept-encoding", "gzip"],
      ["idempotency-key", "k1"],
    ]);
    expect(
      entries(upstreamRequestHeaders(incoming, { header: "x-api-key", value: "sk-ant-deploy" })),
    ).toEqual([
      ["anthropic-beta", "a,b"],
      ["anthropic-version", "2023-06-01"],
      ["content-type", "application/json"],
      ["idempotency-key", "k1"],
      ["x-api-key", "sk-ant-deploy"],
    ]);
    // The tenant's own key keeps the account headers; pass-through keeps the client's credentials.
    const owned = upstreamRequestHeaders(incoming, {
      header: "authorization",
      value: "sk-own",
      tenantOwned: true,
    });
    expect(owned.get("openai-organization")).toBe("org-1");
    expect(owned.get("authorization")).toBe("Bearer sk-own");
    expect(owned.get("x-api-key")).toBeNull();
    const passed = upstreamRequestHeaders(incoming, undefined);
    expect(passed.get("x-api-key")).toBe("sk-stoker-tenant");
    expect(passed.get("openai-organization")).toBe("org-1");
    expect(passed.get("cf-connecting-ip")).toBeNull();
    expect(incoming.get("host")).toBe("stoker.example");
  });
});

import { describe, expect, it } from "vitest";
import { anthropic, namespace, simRequests } from "../support/clients.ts";
import { freshTenant } from "../support/tenants.ts";

// Stoker drops the client's cf-* headers (src/upstream/headers.ts); the Workers runtime itself adds
// `CF-Worker: <zone>` to every subrequest (developers.cloudflare.com/fundamentals/reference/http-headers,
// "CF-Worker"), and so does workerd under the vitest pool (workers-sdk vitest-pool-workers 0.16.8 notes).
describe("cf-* headers at the upstream", () => {
  it("are the runtime's CF-Worker only: none of the client's reach the provider", {
    timeout: 20_000,
  }, async () => {
    const ns = namespace();
    await anthropic(ns, {
      apiKey: freshTenant().key,
      headers: { "cf-connecting-ip": "203.0.113.7", "cf-ray": "8abc", "cf-ipcountry": "FR" },
    }).messages.create({
      model: "claude-sonnet-4-6",
      max_tokens: 8,
      messages: [{ role: "user", content: "Hi" }],
    });
    const [sent] = await simRequests(ns);
    const cf = Object.keys(sent?.headers ?? {}).filter((h) => h.startsWith("cf-"));
    console.log(`cf-* headers at the upstream: ${JSON.stringify(cf.map((h) => [h, sent?.headers[h]]))}`);
    expect(cf).toEqual(["cf-worker"]);
  });
});

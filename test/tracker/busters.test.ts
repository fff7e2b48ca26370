import { describe, expect, it } from "vitest";
import { anthropic, longText, namespace } from "../support/clients.ts";
import { freshTenant } from "../support/tenants.ts";
import { eventually, totalsAfter, tracker } from "../support/tracker.ts";

const MODEL = "claude-sonnet-4-6";

describe("cache-buster findings", () => {
  it("a timestamp at the head of the system prompt is found, with the tokens it cost", async () => {
    const t = freshTenant();
    const client = anthropic(namespace(), { apiKey: t.key });
    const body = longText(3000, "rules");
    for (const stamp of ["2026-11-27T21:00:01Z", "2026-11-27T21:00:42Z"]) {
      await client.messages.create({
        model: MODEL,
        max_tokens: 16,
        system: `Current time: ${stamp}\n${body}`,
        messages: [{ role: "user", content: "What changed?" }],
      });
    }
    await totalsAfter(t.id, 2);
    const findings = await eventually(
      () => tracker(t.id).busters(),
      (f) => f.length > 0,
    );
    expect(findings).toHaveLength(1);
    const [f] = findings;
    expect(f?.kind).toBe("system");
    expect(f?.volatile).toBe(true);
    expect(f?.tokensLost).toBeGreaterThan(2000);
    expect(f?.costUsd).toBeGreaterThan(0);
  });

  it("a conversation that simply continues produces none", async () => {
    const t = freshTenant();
    const client = anthropic(namespace(), { apiKey: t.key });
    const system = longText(3000, "rules");
    const first = await client.messages.create({
      model: MODEL,
      max_tokens: 16,
      system,
      messages: [{ role: "user", content: "One" }],
    });
    await client.messages.create({
      model: MODEL,
      max_tokens: 16,
      system,
      messages: [
        { role: "user", content: "One" },
        { role: "assistant", content: first.content },
        { role: "user", content: "Two" },
      ],
    });
    await totalsAfter(t.id, 2);
    expect(await tracker(t.id).busters()).toEqual([]);
  });
});

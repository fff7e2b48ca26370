import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type Anthropic from "@anthropic-ai/sdk";
import { describe, expect, it } from "vitest";
import { anthropic, longText, namespace } from "../support/clients.ts";
import { freshTenant } from "../support/tenants.ts";
import { totalsAfter, tracker } from "../support/tracker.ts";

interface SimEntry {
  tokens: number;
  hits: number;
  ttl: string;
}

interface Row {
  tokens: number;
  hits: number;
  writes: number;
  seen: number;
  cached_until: number | null;
}

describe("the tracker's entries follow what the provider reports", () => {
  it("after a 4-turn conversation: one written entry per provider entry, sizes to the token", async () => {
    const ns = namespace();
    const t = freshTenant();
    const client = anthropic(ns, { apiKey: t.key });
    const system = longText(2500, "rules");
    const messages: Anthropic.MessageParam[] = [];
    for (let turn = 0; turn < 4; turn++) {
      messages.push({ role: "user", content: `Turn ${turn}: ${longText(200, `u${turn}`)}` });
      const reply = await client.messages.create({
        model: "claude-sonnet-4-6",
        max_tokens: 32,
        system,
        messages: [...messages],
      });
      messages.push({ role: "assistant", content: reply.content });
    }
    await totalsAfter(t.id, 4);
    const sim = (await (await fetch(`${env.SIM_URL}/__sim/cache?ns=${ns}`)).json()) as {
      anthropic: SimEntry[];
    };
    const rows = await runInDurableObject(tracker(t.id), (_i, state) =>
      state.storage.sql
        .exec<Row & Record<string, SqlStorageValue>>("SELECT * FROM prefixes ORDER BY tokens")
        .toArray(),
    );
    const written = rows.filter((r) => r.writes > 0);
    expect(sim.anthropic.length).toBeGreaterThan(0);
    expect(written.length).toBe(sim.anthropic.length);
    // Sizes to the token where the provider reported them (an entry a later request read, or a request's
    // deepest write); an entry marked inside a longer write that nothing has read yet carries Stoker's
    // calibrated estimate until a read reports it (within a few percent).
    const unmatched = [...written];
    for (const entry of sim.anthropic) {
      const exact = unmatched.findIndex((r) => r.tokens === entry.tokens);
      const near = unmatched.findIndex((r) => Math.abs(r.tokens - entry.tokens) <= 0.05 * entry.tokens);
      const at = exact >= 0 ? exact : near;
      expect(at, `an entry of ${entry.tokens} tokens`).toBeGreaterThanOrEqual(0);
      expect(unmatched[at]?.cached_until).not.toBeNull();
      unmatched.splice(at, 1);
    }
    expect(
      written.filter((r) => sim.anthropic.some((e) => e.tokens === r.tokens)).length,
    ).toBeGreaterThanOrEqual(sim.anthropic.length - 2);
    // The head was read on every turn after the first.
    const head = written[0] as Row;
    expect(head.hits).toBeGreaterThanOrEqual(3);
    expect(head.seen).toBe(4);
  });
});

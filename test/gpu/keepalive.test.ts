import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { priorQ } from "../../src/decide/hazard.ts";
import { nextWithin } from "../../src/decide/hold-value.ts";
import { decideTouch, MIN_TOUCH_TOKENS, TOUCH_GPU_S, touchBody } from "../../src/gpu/touch.ts";
import type { TouchReport } from "../../src/gpu/touch-run.ts";
import { backendRequests, gpuPost, gpuSim, poolObject, prose } from "../support/gpu.ts";
import { freshTenant } from "../support/tenants.ts";
import { totalsAfter } from "../support/tracker.ts";

interface Row extends Record<string, SqlStorageValue> {
  tenant: string;
  backend: number;
  tokens: number;
  uses: number;
  touches: number;
  last_use: number;
  next_at: number | null;
}

const rows = (tenant: string) =>
  runInDurableObject(poolObject("ka"), (_instance, state) =>
    state.storage.sql
      .exec<Row>(
        "SELECT tenant, backend, tokens, uses, touches, last_use, next_at FROM touches WHERE tenant = ?",
        tenant,
      )
      .toArray(),
  );

describe("GPU keepalive touches", () => {
  it("touches a conversation's prompt on the backend that holds it when the policy says it pays", async () => {
    const t = freshTenant();
    const marker = crypto.randomUUID();
    // Six requests: the first look comes some 25 minutes after the last use here, and the fitted prior has a
    // conversation of two requests idle that long not coming back within the hour, one of six often enough.
    const messages: { role: string; content: string }[] = [
      { role: "user", content: `${marker} ${prose(1800, "ka")}` },
    ];
    const backends = new Set<number>();
    for (let turn = 1; turn <= 6; turn++) {
      const res = await gpuPost("ka", "chat/completions", t.key, { model: "m", max_tokens: 4, messages });
      backends.add(Number(res.headers.get("x-stoker-backend")));
      const answer = ((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]
        ?.message.content;
      messages.push(
        { role: "assistant", content: answer ?? "" },
        { role: "user", content: `and then ${turn}?` },
      );
    }
    expect(backends.size).toBe(1);
    const backend = [...backends][0] as number;

    await expect.poll(async () => (await rows(t.id))[0]?.uses).toBe(6);
    const [row] = await rows(t.id);
    expect(row).toMatchObject({ backend, touches: 0 });
    expect(row?.tokens).toBeGreaterThanOrEqual(MIN_TOUCH_TOKENS);
    expect(row?.next_at).toBeGreaterThan(row?.last_use as number);

    // The sweep as of the row's first look: about half the backend's estimated cache residency later.
    const answer2 = await poolObject("ka").runKeepalive("ka", row?.next_at as number);
    expect(answer2.ok).toBe(true);
    const report = (answer2 as { value: TouchReport }).value;
    expect(report).toMatchObject({ touched: 1, dropped: 0 });
    const seen = await backendRequests(gpuSim().backends[backend] as string, marker);
    expect(seen).toHaveLength(7);
    const touch = JSON.parse(seen[6]?.body ?? "{}");
    expect(touch).toMatchObject({ max_tokens: 1, model: "m" });
    expect(touch).not.toHaveProperty("stream");
    expect(touch.cache_salt).toBe(JSON.parse(seen[5]?.body ?? "{}").cache_salt);
    expect(seen[6]?.cached_tokens).toBeGreaterThan((row?.tokens ?? 0) / 2);
    const [after] = await rows(t.id);
    expect(after?.touches).toBe(1);
    expect(after?.next_at).toBeGreaterThan(row?.next_at as number);
    // The touch is accounted as the tenant's keepalive request.
    expect((await totalsAfter(t.id, 7)).requests).toBe(7);
  });

  it("never stores a prompt too small to be worth a touch", async () => {
    const t = freshTenant();
    const res = await gpuPost("ka", "chat/completions", t.key, {
      model: "m",
      messages: [{ role: "user", content: "short" }],
    });
    expect(res.status).toBe(200);
    await totalsAfter(t.id, 1);
    expect(await rows(t.id)).toEqual([]);
  });
});

describe("decideTouch (pure)", () => {
  const ctx = { nowMs: 10 * 60_000, residencyMs: 20 * 60_000, prefillTokensPerS: 1000, roomTokens: 1e9 };

  it("touches a large prompt of a conversation that comes back often, not a small or a stale one", () => {
    const entry = { tokens: 30_000, uses: 6, touches: 0, lastUseMs: 0 };
    expect(decideTouch(entry, ctx)).toMatchObject({ touch: true, reason: "pays" });
    expect(decideTouch({ ...entry, tokens: 1000 }, ctx).reason).toBe("small");
    expect(decideTouch(entry, { ...ctx, nowMs: 2 * 3600_000 }).reason).toBe("horizon");
    expect(decideTouch({ ...entry, touches: 12 }, ctx).reason).toBe("max-touches");
    expect(decideTouch(entry, { ...ctx, roomTokens: 10_000 }).reason).toBe("no-room");
    expect(decideTouch(entry, { ...ctx, residencyMs: Number.POSITIVE_INFINITY }).reason).toBe("not-needed");
  });

  it("does not touch when the saved prefill is worth less than the touch", () => {
    // A fast backend: 2,500 tokens prefill in 25 ms; a one-use prompt comes back rarely.
    const d = decideTouch(
      { tokens: 2500, uses: 1, touches: 0, lastUseMs: 0 },
      { ...ctx, prefillTokensPerS: 100_000 },
    );
    expect(d).toMatchObject({ touch: false, reason: "does-not-pay" });
  });

  it("weighs the decision core's prior by the conversation's requests so far, as the tracker does", () => {
    // 1, 2, 3-5 and 6+ requests: the tracker's use classes. The chance of coming back within the next
    // residency after 10 idle minutes is the fitted prior's (src/decide/hazard.ts), not a copy of its own.
    const entry = { tokens: 30_000, touches: 0, lastUseMs: 0 };
    for (const [k, uses] of [1, 2, 4, 7].entries()) {
      const p = nextWithin(priorQ(k), ctx.nowMs, ctx.residencyMs);
      expect(decideTouch({ ...entry, uses }, ctx).gainS).toBeCloseTo(
        p * (entry.tokens / ctx.prefillTokensPerS) - TOUCH_GPU_S,
        9,
      );
    }
  });

  it("turns the forwarded body into a one-token, non-streamed request with the same prompt and salt", () => {
    const body = touchBody(
      JSON.stringify({
        model: "m",
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: 500,
        cache_salt: "s",
        messages: [],
      }),
    );
    expect(JSON.parse(body ?? "")).toEqual({ model: "m", max_tokens: 1, cache_salt: "s", messages: [] });
  });
});

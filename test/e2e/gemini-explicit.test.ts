import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api } from "../support/analytics.ts";
import { namespace, simAdvance, simRequests, simStats } from "../support/clients.ts";
import {
  advance,
  ask,
  askApart,
  cacheCreation,
  MINUTE,
  MODEL,
  settle,
  until,
} from "../support/gemini-explicit.ts";
import { freshTenant, NO_EXPLICIT_TENANT } from "../support/tenants.ts";
import { tracker } from "../support/tracker.ts";

const PRICE = { input: 2, cached: 0.2, output: 12, storage: 4.5 }; // gemini-3-pro, USD per MTok (storage per MTok-hour)

interface Figures {
  requests: number;
  cost_usd: number;
  saved_usd: number;
}

interface Explicit {
  caches_created: number;
  ttl_extensions: number;
  spend_usd: number;
  read_tokens: number;
  net_saved_usd: number;
}

describe("Gemini explicit caches, managed by Stoker (@google/genai)", () => {
  it("creates a cache once reuse pays creation plus storage, then serves the prefix from it byte-exactly; accounting equals the bill", async () => {
    const tenant = freshTenant();
    const ns = namespace();
    // Six minutes apart: past the implicit cache's lifetime, ten returns an hour. The third request has the
    // two returns a creation needs (MIN_RETURNS).
    const first = await ask(tenant.key, ns, "Question one?");
    expect(first.usageMetadata?.cachedContentTokenCount).toBeUndefined();
    await settle();
    await advance(6 * MINUTE);
    await ask(tenant.key, ns, "Question two?");
    await settle();
    expect((await simRequests(ns)).some((r) => r.path.includes("cachedContents"))).toBe(false);
    await advance(6 * MINUTE);
    await ask(tenant.key, ns, "Question two, again?");
    const create = await cacheCreation(ns);
    const createBody = JSON.parse(create.body) as {
      model: string;
      contents: unknown[];
      ttl: string;
      systemInstruction: unknown;
    };
    expect(createBody.model).toBe(`models/${MODEL}`);
    expect(createBody.contents).toHaveLength(2);
    expect(createBody.ttl).toBe("3600s");
    // Let the tracker store it (the creation's answer is recorded off the request path).
    await new Promise((r) => setTimeout(r, 200));

    await advance(6 * MINUTE);
    const third = await ask(tenant.key, ns, "Question three?");
    const sent = (await simRequests(ns)).filter((r) => r.path.endsWith(":generateContent")).at(-1);
    const body = JSON.parse(sent?.body ?? "{}") as Record<string, unknown>;
    expect(typeof body.cachedContent).toBe("string");
    expect(body.systemInstruction).toBeUndefined();
    expect(body.contents).toEqual([{ role: "user", parts: [{ text: "Question three?" }] }]);
    const cached = third.usageMetadata?.cachedContentTokenCount ?? 0;
    expect(cached).toBeGreaterThan(6000);
    // The same prompt as without the cache: the client cannot tell, except on the bill.
    const fresh = await ask(freshTenant().key, namespace(), "Question three?");
    expect(third.usageMetadata?.promptTokenCount).toBe(fresh.usageMetadata?.promptTokenCount);
    expect(third.text).toBe(fresh.text);

    // Past the cache's hour: its storage is over; Stoker's accounting equals the simulator's bill.
    await advance(2 * 60 * MINUTE);
    await simAdvance(ns, 2 * 3600); // the simulator's clock follows Stoker's only on requests
    const bill = (await simStats(ns)).gemini;
    expect(bill.storage_token_hours).toBeCloseTo(cached, 6);
    const usd =
      (bill.uncached_input_tokens * PRICE.input +
        bill.cache_read_input_tokens * PRICE.cached +
        bill.cache_write_1h_input_tokens * PRICE.input +
        bill.output_tokens * PRICE.output +
        bill.storage_token_hours * PRICE.storage) /
      1e6;
    const figures = await until("the tracker has every row", async () => {
      const json = (await api("/v1/analytics/summary", tenant.key)).body as {
        by_upstream: ({ upstream: string } & Figures)[];
        gemini_explicit: Explicit;
      };
      const row = json.by_upstream?.find((r) => r.upstream === "gemini");
      return row && row.requests >= 4 && json.gemini_explicit.caches_created >= 1
        ? { ...row, explicit: json.gemini_explicit }
        : undefined;
    });
    expect(figures.requests).toBe(4); // the creation is accounted, not counted as a request
    expect(Math.abs(figures.cost_usd - usd)).toBeLessThan(2e-6);
    // The cache's own figures: creation and an hour of storage, the tokens the third request read from it.
    const spend =
      (bill.cache_write_1h_input_tokens * PRICE.input + bill.storage_token_hours * PRICE.storage) / 1e6;
    expect(figures.explicit.caches_created).toBe(1);
    expect(figures.explicit.ttl_extensions).toBe(0);
    expect(Math.abs(figures.explicit.spend_usd - spend)).toBeLessThan(2e-6);
    expect(figures.explicit.read_tokens).toBe(cached);
    const readSaving = (cached * (PRICE.input - PRICE.cached)) / 1e6;
    expect(Math.abs(figures.explicit.net_saved_usd - (readSaving - spend))).toBeLessThan(2e-6);
  });

  it("extends a cache's TTL by PATCH while returns pay its storage, and accounts the storage the extension buys", async () => {
    const tenant = freshTenant();
    const ns = namespace();
    // Requests at 0, 6, 12 (creates the cache, which expires at 72), 18 and 30 (read it) and 45 minutes (reads
    // it, with 27 minutes left: extended to 105, as 5 returns in 45 minutes pay an hour of storage). The
    // returns keep paying its storage all along, so the review never deletes it (the next test).
    for (const [i, wait] of [6, 6, 6, 12, 15].entries()) {
      await ask(tenant.key, ns, `Question ${i}?`);
      await settle();
      await advance(wait * MINUTE);
    }
    const last = await ask(tenant.key, ns, "Question 5?");
    const cached = last.usageMetadata?.cachedContentTokenCount ?? 0;
    expect(cached).toBeGreaterThan(6000);
    const patch = await until("the TTL is extended", async () =>
      (await simRequests(ns)).find((r) => r.method === "PATCH"),
    );
    expect(patch.path).toMatch(/^\/gemini\/v1beta\/cachedContents\/[a-z0-9]+$/);
    expect(patch.query.updateMask).toBe("ttl");
    expect(JSON.parse(patch.body)).toEqual({ ttl: "3600s" });
    await settle();
    await advance(3 * 60 * MINUTE);
    await simAdvance(ns, 3 * 3600);
    const bill = (await simStats(ns)).gemini;
    // Created at 12, extended at 45 to expire at 105: 93 minutes of storage (the simulator's clock runs on with
    // the wall clock between the shared clock's jumps: within a few seconds).
    expect(Math.abs(bill.storage_token_hours - (cached * 93) / 60)).toBeLessThan((cached * 5) / 3600);
    const explicit = await until("the extension is accounted", async () => {
      const json = (await api("/v1/analytics/summary", tenant.key)).body as { gemini_explicit: Explicit };
      return json.gemini_explicit?.ttl_extensions === 1 ? json.gemini_explicit : undefined;
    });
    const spend =
      (bill.cache_write_1h_input_tokens * PRICE.input + bill.storage_token_hours * PRICE.storage) / 1e6;
    expect(Math.abs(explicit.spend_usd - spend)).toBeLessThan(2e-6);
    expect(explicit.read_tokens).toBe(3 * cached);
  });

  it("deletes a cache before its TTL ends once returns stop paying its storage, and accounts only the storage used", async () => {
    const tenant = freshTenant();
    const ns = namespace();
    // A question every 6 minutes from 0 to 48: the cache is created at 12 (expiring at 72) and extended at 48,
    // with 24 minutes left, to 108. Then silence: at about 92 minutes the returns it still expects no longer
    // pay the storage left plus the chance of having to create it again (decide/gemini-policy.ts
    // chooseDeletion). The clock jumps to 100: the minute cron runs at the new time, and the tracker's review
    // deletes the cache there (an alarm would fire at the due time).
    for (const wait of [6, 6, 6, 6, 6, 6, 6, 6, 52]) {
      await ask(tenant.key, ns, `Question after ${wait}?`);
      await settle();
      await advance(wait * MINUTE);
    }
    const del = await until("the cache is deleted", async () =>
      (await simRequests(ns)).find((r) => r.method === "DELETE"),
    );
    expect(del.path).toMatch(/^\/gemini\/v1beta\/cachedContents\/[a-z0-9]+$/);
    const created = (await simRequests(ns)).find((r) => r.path === "/gemini/v1beta/cachedContents");
    expect(created).toBeDefined();
    // The provider's list no longer holds it.
    const list = (await (
      await fetch(`${env.SIM_URL}/gemini/v1beta/cachedContents`, { headers: { "x-sim-namespace": ns } })
    ).json()) as { cachedContents?: unknown[] };
    expect(list.cachedContents ?? []).toHaveLength(0);
    await advance(2 * 60 * MINUTE);
    await simAdvance(ns, 2 * 3600);
    const bill = (await simStats(ns)).gemini;
    const tokens = bill.cache_write_1h_input_tokens;
    expect(tokens).toBeGreaterThan(6000);
    // Storage from 12 to 100 minutes, where it was bought to 108: 8 minutes' storage saved.
    expect(Math.abs(bill.storage_token_hours - (tokens * 88) / 60)).toBeLessThan((tokens * 5) / 3600);
    // Stoker's accounting equals the bill: the deletion's row gives back the storage it spared.
    const explicit = await until("the deletion is accounted", async () => {
      const json = (await api("/v1/analytics/summary", tenant.key)).body as { gemini_explicit: Explicit };
      const e = json.gemini_explicit;
      // The extension bought storage to 108 minutes; the deletion's row gives back what it spared.
      return e && e.spend_usd < (tokens * (PRICE.input + (PRICE.storage * 96) / 60)) / 1e6 - 1e-6
        ? e
        : undefined;
    });
    const spend =
      (bill.cache_write_1h_input_tokens * PRICE.input + bill.storage_token_hours * PRICE.storage) / 1e6;
    expect(Math.abs(explicit.spend_usd - spend)).toBeLessThan(2e-6);
    expect(explicit.caches_created).toBe(1);
  });

  it("resends a request unchanged when its cache is gone upstream (a failure of Stoker's never fails the request)", async () => {
    const tenant = freshTenant();
    const ns = namespace();
    await askApart(tenant.key, ns, ["One?", "Two?", "Two, again?"], 6 * MINUTE);
    const create = await cacheCreation(ns);
    await settle();
    // Someone deletes it at the provider behind Stoker's back.
    const list = (await (
      await fetch(`${env.SIM_URL}/gemini/v1beta/cachedContents`, { headers: { "x-sim-namespace": ns } })
    ).json()) as { cachedContents: { name: string }[] };
    const name = list.cachedContents[0]?.name ?? "";
    expect(name).toMatch(/^cachedContents\//);
    expect(create.method).toBe("POST");
    const del = await fetch(`${env.SIM_URL}/gemini/v1beta/${name}`, {
      method: "DELETE",
      headers: { "x-sim-namespace": ns },
    });
    expect(del.status).toBe(200);
    const res = await ask(tenant.key, ns, "Three?");
    expect(res.text).toContain("Simulated reply");
    const calls = (await simRequests(ns)).filter((r) => r.path.endsWith(":generateContent"));
    const [rewritten, resent] = calls.slice(-2).map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(rewritten?.cachedContent).toBe(name);
    expect(resent?.cachedContent).toBeUndefined();
    expect(resent?.systemInstruction).toBeDefined();
  });

  it("stays within the tenant's daily keepalive budget: a creation that does not fit is not made", async () => {
    for (const [budget, expected] of [
      [0.01, false], // creation and an hour of storage cost about $0.04 here
      [0.1, true],
    ] as const) {
      const tenant = freshTenant();
      await tracker(tenant.id).configureKeepalive({ maxUsdPerDay: budget });
      const ns = namespace();
      await askApart(tenant.key, ns, ["One?", "Two?", "Two, again?"], 6 * MINUTE);
      await settle();
      expect(
        (await simRequests(ns)).some((r) => r.path.includes("cachedContents")),
        `budget ${budget}`,
      ).toBe(expected);
    }
  });

  it("never creates one for a tenant that switched it off", async () => {
    const ns = namespace();
    // As in the first test, where a cache is created by the second request: each record lands before the next.
    await askApart(NO_EXPLICIT_TENANT.key, ns, ["One?", "Two?", "Three?", "Four?"], 6 * MINUTE);
    await new Promise((r) => setTimeout(r, 300));
    expect((await simRequests(ns)).some((r) => r.path.includes("cachedContents"))).toBe(false);
  });

  it("creates none while the implicit cache serves the prefix (returns a minute apart)", async () => {
    const tenant = freshTenant();
    const ns = namespace();
    await askApart(tenant.key, ns, ["A?", "B?", "C?", "D?"], MINUTE);
    await new Promise((r) => setTimeout(r, 300));
    expect((await simRequests(ns)).some((r) => r.path.includes("cachedContents"))).toBe(false);
  });
});

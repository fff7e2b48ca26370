import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { mulberry32 } from "../../bench/economics/synthetic.ts";
import { type ChainSummary, SHAPE_BASE } from "../../src/prefix/diff.ts";
import { diagnose, RecentChains } from "../../src/tracker/busters-store.ts";
import type { RecordRequest } from "../../src/tracker/types.ts";
import { recordRequest } from "../support/records.ts";
import { freshTenant } from "../support/tenants.ts";
import { tracker } from "../support/tracker.ts";

// The Tracker holds a lineage's recent chains in memory once a miss has read them (RecentChains): the rows it
// keeps and the findings it makes must be those of reading the table every time.

const NOW = Date.UTC(2026, 11, 2, 12);

/** A chain of `n` segments whose hashes change from segment `from` on (a buster there), with a volatile one. */
function chain(n: number, from: number, salt: number): ChainSummary {
  const hashed = Array.from({ length: n }, (_v, i) => i).filter((i) => i % 2 === 0);
  return {
    h0: "h0-recent-chains",
    family: "family-recent-chains",
    layout: Array.from({ length: n }, (_v, i) => String.fromCharCode(SHAPE_BASE + (i < 2 ? 0 : 1))).join(""),
    shapes: ["system text", "message text"],
    messages: Array.from({ length: n }, (_v, i) => (i >= 2 ? i - 2 : -1)),
    hashed,
    hashes: hashed.map((i) => `seg-${i}-${i >= from ? salt : 0}`),
    volatile: [1],
  };
}

/**
 * A seeded sequence over two lineages: most requests read their prompt, some miss it after a change at a
 * random segment; times repeat (ties) and run backwards at times (late records).
 */
function sequence(seed: number, n: number): RecordRequest[] {
  const rng = mulberry32(seed);
  let at = NOW;
  return Array.from({ length: n }, (_v, i) => {
    at += rng() < 0.2 ? 0 : rng() < 0.1 ? -30_000 : Math.floor(rng() * 60_000);
    const miss = rng() < 0.4;
    const input = 4000 + Math.floor(rng() * 4000);
    const read = miss ? Math.floor(input * rng() * 0.4) : Math.floor(input * (0.6 + rng() * 0.4));
    const segments = 6 + Math.floor(rng() * 10);
    return recordRequest({
      tenantId: "t",
      requestId: `req_chains_${seed}_${i}`,
      at,
      model: rng() < 0.7 ? "claude-sonnet-4-6" : "claude-haiku-4-5",
      usage: {
        inputTokens: input,
        uncachedTokens: input - read,
        cacheReadTokens: read,
        cacheWrite5mTokens: rng() < 0.5 ? 0 : input - read,
        cacheWrite1hTokens: 0,
        outputTokens: 5,
      },
      family: "family-recent-chains",
      estimatedTokens: input,
      chain: chain(segments, miss ? Math.floor(rng() * segments) : segments, i),
    });
  });
}

/** Diagnoses the sequence in a fresh tracker, with `chains` (made once) or reading the table every time. */
async function run(records: RecordRequest[], chains: () => RecentChains | undefined) {
  const t = freshTenant();
  return runInDurableObject(tracker(t.id), (_instance, state) => {
    const sql = state.storage.sql;
    const held = chains();
    for (const r of records) diagnose(sql, r, new Map(), held);
    return {
      chains: sql.exec("SELECT * FROM recent_chains ORDER BY id").toArray(),
      busters: sql.exec("SELECT * FROM busters ORDER BY id").toArray(),
    };
  });
}

describe("recent chains held in memory", () => {
  it("keep the rows and make the findings that reading the table every time does", async () => {
    for (const seed of [1, 2, 3]) {
      const records = sequence(seed, 120);
      const read = await run(records, () => undefined);
      // Several lineages found busters, and each kept its newest rows only.
      expect(read.busters.length).toBeGreaterThan(5);
      expect(read.chains.length).toBe(16);
      expect(await run(records, () => new RecentChains())).toEqual(read);
      const chars = new Map<string, number>();
      for (const c of read.chains)
        chars.set(String(c.lineage), (chars.get(String(c.lineage)) ?? 0) + String(c.summary).length);
      const smallest = Math.min(...chars.values());
      // A bound smaller than one lineage's rows: nothing stays held, each miss reads the table again.
      expect(await run(records, () => new RecentChains(smallest / 2))).toEqual(read);
      // A bound of about one lineage: the two lineages take turns.
      expect(await run(records, () => new RecentChains(Math.max(...chars.values()) * 1.3))).toEqual(read);
    }
  });
});

describe("recent chains stored before summaries were columns", () => {
  it("explain no miss and break nothing: the next rows diagnose as before", async () => {
    const [first, miss] = [
      recordRequest({
        tenantId: "t",
        requestId: "req_columns_0",
        at: NOW,
        usage: {
          inputTokens: 6000,
          uncachedTokens: 0,
          cacheReadTokens: 6000,
          cacheWrite5mTokens: 0,
          cacheWrite1hTokens: 0,
          outputTokens: 5,
        },
        chain: chain(10, 10, 0),
      }),
      recordRequest({
        tenantId: "t",
        requestId: "req_columns_1",
        at: NOW + 60_000,
        usage: {
          inputTokens: 6000,
          uncachedTokens: 6000,
          cacheReadTokens: 0,
          cacheWrite5mTokens: 0,
          cacheWrite1hTokens: 0,
          outputTokens: 5,
        },
        chain: chain(10, 4, 1),
      }),
    ];
    const t = freshTenant();
    const found = await runInDurableObject(tracker(t.id), (_instance, state) => {
      const sql = state.storage.sql;
      const old = {
        h0: "h0-recent-chains",
        family: "f",
        segments: [{ kind: "system", type: "text", hash: "seg-0-0" }],
      };
      sql.exec(
        "INSERT INTO recent_chains (lineage, at, cached_tokens, summary) VALUES (?, ?, ?, ?)",
        `anthropic:${miss.model}`,
        NOW - 1,
        6000,
        JSON.stringify(old),
      );
      // A miss with only the old row to go on: no finding, no failure.
      diagnose(sql, { ...miss, requestId: "req_columns_alone" }, new Map(), new RecentChains());
      const alone = sql.exec("SELECT COUNT(*) AS n FROM busters").one().n;
      diagnose(sql, first, new Map(), new RecentChains());
      diagnose(sql, miss, new Map(), new RecentChains());
      return { alone, after: sql.exec<{ segment: number }>("SELECT segment FROM busters").toArray() };
    });
    expect(found.alone).toBe(0);
    // The hashes of `miss` change from segment 4 (hashed: 0, 2, 4, ...): the buster is pinned after the last
    // equal one, 2, against the columns row.
    expect(found.after).toEqual([{ segment: 3 }]);
  });
});

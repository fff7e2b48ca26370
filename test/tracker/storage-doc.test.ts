/// <reference types="vite/client" />
// src/tracker/storage.md must name every table, meta key and RPC method the Tracker has: a new one that the
// document does not name fails here.
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import storageMd from "../../src/tracker/storage.md?raw";
import { Tracker } from "../../src/tracker/tracker.ts";
import { tracker } from "../support/tracker.ts";

/** The words the document puts in backticks. */
const named = new Set([...storageMd.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string));

/** The tracker's source files, as text, for the meta keys they write. */
const sources = import.meta.glob<string>("../../src/tracker/*.ts", {
  query: "?raw",
  import: "default",
  eager: true,
});

describe("src/tracker/storage.md describes the storage that is there", () => {
  it("names every table of a Tracker's SQLite database", async () => {
    const tables = await runInDurableObject(tracker(crypto.randomUUID()), (_obj: Tracker, state) =>
      state.storage.sql
        .exec<{ name: string }>(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
        )
        .toArray()
        .map((r) => r.name),
    );
    expect(tables.length).toBeGreaterThan(10);
    expect(tables.filter((t) => !named.has(t))).toEqual([]);
  });

  it("names every meta key the tracker writes", () => {
    const keys = new Set<string>();
    for (const text of Object.values(sources))
      for (const m of text.matchAll(/INTO meta \(key, value\) VALUES \('([a-z_]+)'/g))
        keys.add(m[1] as string);
    expect(keys.size).toBeGreaterThan(3);
    expect([...keys].filter((k) => !named.has(k))).toEqual([]);
  });

  it("names every RPC method of the Tracker, and the alarm", () => {
    const methods = Object.getOwnPropertyNames(Tracker.prototype).filter(
      (m) => m !== "constructor" && typeof Reflect.get(Tracker.prototype, m) === "function",
    );
    expect(methods).toContain("record");
    expect(methods).toContain("alarm");
    expect(methods.filter((m) => !named.has(m))).toEqual([]);
  });
});

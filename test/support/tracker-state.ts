// Reads a tenant's tracker from inside its Durable Object (runInDurableObject): enough to tell whether a
// request changed anything, and what was recorded for a request id.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { tracker } from "./tracker.ts";

export interface TrackerState {
  /** SQLite's total_changes() on the object's connection: every row inserted, updated or deleted so far. */
  changes: number;
  /** Rows in `requests` (the accounting). */
  requests: number;
}

export function trackerState(tenantId: string): Promise<TrackerState> {
  return runInDurableObject(tracker(tenantId), (_instance, state) => {
    const sql = state.storage.sql;
    return {
      changes: sql.exec<{ n: number }>("SELECT total_changes() AS n").one().n,
      requests: sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM requests").one().n,
    };
  });
}

/** total_changes() of the tenant directory (admin-created tenants, sealed provider keys, audit log). */
export function directoryChanges(): Promise<number> {
  const ns = env.TENANT_DIRECTORY;
  return runInDurableObject(
    ns.get(ns.idFromName("global")),
    (_instance, state) => state.storage.sql.exec<{ n: number }>("SELECT total_changes() AS n").one().n,
  );
}

export interface RequestRow {
  request_id: string;
  status: number;
  result: string;
  stream: number;
  keepalive: number;
  endpoint: string;
}

/** The accounting rows of these request ids (at most one each: request_id is unique). */
export function requestRows(tenantId: string, ids: string[]): Promise<RequestRow[]> {
  return runInDurableObject(tracker(tenantId), (_instance, state) =>
    ids.length === 0
      ? []
      : state.storage.sql
          .exec<RequestRow & Record<string, SqlStorageValue>>(
            `SELECT request_id, status, result, stream, keepalive, endpoint FROM requests WHERE request_id IN (${ids.map(() => "?").join(",")})`,
            ...ids,
          )
          .toArray(),
  );
}

/** Every row of every table of the tenant's tracker (blobs as hex), for searching stored state. */
export function dumpTracker(tenantId: string): Promise<Record<string, Record<string, unknown>[]>> {
  return runInDurableObject(tracker(tenantId), (_instance, state) => {
    const sql = state.storage.sql;
    const tables = sql
      .exec<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
      )
      .toArray()
      .map((r) => r.name);
    const out: Record<string, Record<string, unknown>[]> = {};
    for (const t of tables) {
      try {
        out[t] = sql
          .exec(`SELECT * FROM "${t}"`)
          .toArray()
          .map((row) =>
            Object.fromEntries(
              Object.entries(row).map(([k, v]) => [
                k,
                v instanceof ArrayBuffer
                  ? [...new Uint8Array(v)].map((b) => b.toString(16).padStart(2, "0")).join("")
                  : v,
              ]),
            ),
          );
      } catch {
        // Internal tables the runtime does not let us read.
      }
    }
    return out;
  });
}

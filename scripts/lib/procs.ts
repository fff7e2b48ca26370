// What the load and chaos runs read from the machine: processes of a process group and their memory, and the
// trackers' SQLite files under `wrangler dev --persist-to` (read-only).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Stoker } from "./stoker.ts";

export interface Proc {
  pid: number;
  comm: string;
}

export function groupProcs(pgid: number): Proc[] {
  const out: Proc[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const fields = stat.slice(close + 2).split(" ");
      if (Number(fields[2]) === pgid)
        out.push({ pid: Number(entry), comm: stat.slice(stat.indexOf("(") + 1, close) });
    } catch {
      // exited
    }
  }
  return out;
}

export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** RSS split by kind (MiB): anonymous (heaps, buffers), file-backed (mapped files), shared memory. */
export function rssKinds(pid: number): { anon: number; file: number; shmem: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024;
    return { anon: kb("RssAnon"), file: kb("RssFile"), shmem: kb("RssShmem") };
  } catch {
    return { anon: 0, file: 0, shmem: 0 };
  }
}

/**
 * wrangler dev runs two workerd processes: the dev proxy, and the one serving Stoker (with the inspector),
 * which holds the Worker, its Durable Objects and their SQLite.
 */
export function servingWorkerd(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("--inspector-addr");
  } catch {
    return false;
  }
}

// ---- the tracker, read from its SQLite files (read-only) -------------------------------------------------

export type Db = {
  prepare(sql: string): { get(...a: unknown[]): unknown; all(...a: unknown[]): unknown[] };
  close(): void;
};

export async function openTrackers(stoker: Stoker): Promise<Map<string, Db>> {
  const emitWarning = process.emitWarning;
  process.emitWarning = () => undefined;
  const { DatabaseSync } = await import("node:sqlite").finally(() => {
    process.emitWarning = emitWarning;
  });
  const dir = join(stoker.persistTo, "v3", "do", "stoker-Tracker");
  const out = new Map<string, Db>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite")) {
    const db = new DatabaseSync(join(dir, file), { readOnly: true }) as unknown as Db;
    try {
      const row = db.prepare("SELECT value FROM meta WHERE key = 'tenant_id'").get() as
        | { value: string }
        | undefined;
      if (row) out.set(row.value, db);
      else db.close();
    } catch {
      db.close();
    }
  }
  return out;
}

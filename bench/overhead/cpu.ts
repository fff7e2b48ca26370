// CPU time (user + system) of a process group from /proc, the only per-process CPU figure wrangler dev
// leaves reachable: workerd reports no per-request CPU time locally.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc's utime/stime (USER_HZ, 100 on Linux almost everywhere). */
const HZ = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface GroupCpu {
  /** Milliseconds of CPU per command name (workerd, node, esbuild) over the group's live processes. */
  byCommand: Record<string, number>;
  totalMs: number;
  /** Minor page faults (memory touched for the first time: fresh allocations), all processes together. */
  minorFaults: number;
}

/**
 * A process's command and the fields of /proc/PID/stat after it (state ppid pgrp session tty tpgid flags
 * minflt cminflt majflt cmajflt utime stime ...), or null once it exited.
 */
function statOf(pid: number | "self"): { comm: string; f: string[] } | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  const close = stat.lastIndexOf(")");
  return { comm: stat.slice(stat.indexOf("(") + 1, close), f: stat.slice(close + 2).split(" ") };
}

/** Minor page faults of one process so far (0 once it exited). */
export function minorFaults(pid: number | "self"): number {
  return Number(statOf(pid)?.f[7] ?? 0);
}

/** The process group this process runs in (the workerd processes Miniflare starts from it join it). */
export function ownProcessGroup(): number {
  return Number(statOf("self")?.f[2]);
}

/** CPU used so far by every live process of group `pgid` (exited processes are not counted). */
export function groupCpu(pgid: number): GroupCpu {
  const byCommand: Record<string, number> = {};
  let totalMs = 0;
  let minorFaults = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = statOf(Number(entry)); // null: exited while listing
    if (!stat || Number(stat.f[2]) !== pgid) continue;
    const ms = ((Number(stat.f[11]) + Number(stat.f[12])) * 1000) / HZ;
    byCommand[stat.comm] = (byCommand[stat.comm] ?? 0) + ms;
    totalMs += ms;
    minorFaults += Number(stat.f[7]);
  }
  return { byCommand, totalMs, minorFaults };
}

/** `after - before`, per command. */
export function cpuDelta(before: GroupCpu, after: GroupCpu): GroupCpu {
  const byCommand: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.byCommand)) byCommand[k] = v - (before.byCommand[k] ?? 0);
  return {
    byCommand,
    totalMs: after.totalMs - before.totalMs,
    minorFaults: after.minorFaults - before.minorFaults,
  };
}

export const CLOCK_TICK_MS = 1000 / HZ;

/** CPU ms per wall ms, per command, between two readings `wallMs` apart. */
export function idleRates(before: GroupCpu, after: GroupCpu, wallMs: number): Record<string, number> {
  const d = cpuDelta(before, after);
  return Object.fromEntries(Object.entries(d.byCommand).map(([k, v]) => [k, Math.max(0, v) / wallMs]));
}

/** CPU milliseconds the whole machine has been busy (all cores, /proc/stat: everything but idle and iowait). */
export function machineBusyMs(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return (
    (((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 1000) / HZ
  );
}

/** CPU milliseconds used by this process so far (the load generator and the in-process simulator). */
export function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Resident memory (VmRSS, MiB) of each workerd process of group `pgid`, largest first. */
export function groupRssMiB(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    let status: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      status = readFileSync(`/proc/${entry}/status`, "utf8");
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(")");
    if (stat.slice(stat.indexOf("(") + 1, close) !== "workerd") continue;
    if (Number(stat.slice(close + 2).split(" ")[2]) !== pgid) continue;
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    out.push(kb / 1024);
  }
  return out.sort((a, b) => b - a);
}

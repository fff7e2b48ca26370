// V8's garbage collections in a Miniflare process, read from its `--trace-gc` lines (miniflare.ts starts
// workerd with `gcTraceEnv`): how often the isolates' heaps were collected while a group ran, and how long
// the collector held the thread. V8 prints them with C stdio, which a pipe would buffer in 4 KB blocks (a
// block holds about 20 lines, so a group's would land in the next): coreutils' libstdbuf makes workerd's
// stdout line-buffered, and without it nothing is traced. One line per collection, e.g.
// `[123:0x3373ffc9e000]  7657 ms: Mark-Compact 51.0 (89.0) -> 14.5 (72.3) MB, pooled: 2.0 MB, 31.29 / 0.00 ms ...`
// (the first figure after the sizes is the pause).

import { existsSync } from "node:fs";

const STDBUF = [
  "/usr/libexec/coreutils/libstdbuf.so",
  "/usr/lib/coreutils/libstdbuf.so",
  "/usr/lib/x86_64-linux-gnu/coreutils/libstdbuf.so",
].find((p) => existsSync(p));

/** Whether the benchmark's workerd processes log their collections line by line. */
export const GC_TRACED = STDBUF !== undefined;

/**
 * The environment a Miniflare child gets for it: V8's `--trace-gc`, stdout line-buffered (none without
 * libstdbuf), and the V8 flags of `BENCH_V8_FLAGS` (native-profile.ts: `--perf-prof`), read as each child starts.
 */
export function gcTraceEnv(): Record<string, string> {
  const flags = [STDBUF ? "--trace-gc" : "", process.env.BENCH_V8_FLAGS ?? ""]
    .filter((f) => f !== "")
    .join(" ");
  return {
    ...(flags !== "" ? { MINIFLARE_WORKERD_V8_FLAGS: flags } : {}),
    ...(STDBUF ? { LD_PRELOAD: STDBUF, _STDBUF_O: "L" } : {}),
  };
}

export interface GcStats {
  /** Young-generation collections (Scavenge, Minor Mark-Sweep). */
  minor: number;
  /** Full collections (Mark-Compact, Mark-Sweep). */
  major: number;
  /** Pause ms of all of them. */
  pauseMs: number;
  /** The longest single pause, ms. */
  maxMs: number;
}

const LINE =
  /\b(Scavenge|Minor Mark-Sweep|Mark-Compact|Mark-Sweep)\b[^\n]*?MB, (?:pooled: [0-9.]+ MB, )?([0-9.]+) \/ [0-9.]+ ms/g;

/** The collections in `text` (a slice of a process's output). */
export function parseGc(text: string): GcStats {
  const s: GcStats = { minor: 0, major: 0, pauseMs: 0, maxMs: 0 };
  for (const m of text.matchAll(LINE)) {
    const ms = Number(m[2]);
    if (!Number.isFinite(ms)) continue;
    if (m[1] === "Scavenge" || m[1] === "Minor Mark-Sweep") s.minor++;
    else s.major++;
    s.pauseMs += ms;
    s.maxMs = Math.max(s.maxMs, ms);
  }
  return s;
}

/** Marks where a process's output stands; `since()` parses what it wrote after. */
export function gcWatch(output: () => string): { since(): GcStats } {
  const from = output().length;
  return { since: () => parseGc(output().slice(from)) };
}

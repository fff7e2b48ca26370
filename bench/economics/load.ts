import { readFileSync } from "node:fs";
import { type Trace, type TraceLine, traceFromLines } from "./trace.ts";

/** Reads a Mooncake-format JSONL trace (Node only: trace.ts stays pure for the workerd tests). */
export function loadTrace(path: string): Trace {
  const lines = readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "");
  return traceFromLines(lines.map((l) => JSON.parse(l) as TraceLine));
}

// The titles the two engine benchmarks print before their tables, and how their rows are read back: shared
// by the benchmarks (in workerd), the report they write (report.ts) and the overhead benchmark that quotes
// them (bench/overhead/engine.ts, report.ts).

/** engine.bench.test.ts: the engine alone, on its own bodies, without state. */
export const ENGINE_TITLE = "Engine CPU time per request in workerd (ms)";
/** after-response.bench.test.ts: two steps after the response, with and without what the request path made. */
export const AFTER_TITLE = "Two steps after the response, with and without what the request path made (ms)";
/** floor.bench.test.ts: a first request's floor (its body read and parsed) against Stoker's request path. */
export const FLOOR_TITLE = "A first request's floor against Stoker's request path (ms)";
/** request-path.bench.test.ts: Stoker's own request path as the worker runs it. */
export const PATH_TITLE = "Stoker's own CPU per request in workerd, as the worker runs it (ms)";

const cellsOf = (line: string) => line.split("|").map((c) => c.trim());

/** An engine row's request label ("anthropic 2K") and total p50 (ms, as printed), or null for another line. */
export function engineTotal(line: string): { name: string; p50: string } | null {
  const cells = cellsOf(line);
  const p50 = cells[7]?.match(/^\*\*([\d.]+)\/[\d.]+\*\*$/)?.[1];
  return cells[1] && p50 ? { name: cells[1], p50 } : null;
}

/** A request-path row's label, turn ("later turn", "first request") and mean (ms, as printed), or null. */
export function pathMean(line: string): { name: string; turn: string; mean: string } | null {
  const cells = cellsOf(line);
  const mean = cells[8]?.match(/^\*\*([\d.]+) \/ [\d.]+\*\*$/)?.[1];
  return cells[1] && cells[2] && mean ? { name: cells[1], turn: cells[2], mean } : null;
}

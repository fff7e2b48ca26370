import { join } from "node:path";
import { NEW_TOKEN_CLASSES, type NewTokenEffect, newTokenClass } from "../../src/decide/reuse.ts";
import { loadTrace } from "./load.ts";
import { trainingHalf } from "./split.ts";
import { syntheticWorkloads } from "./synthetic.ts";
import { BLOCK_TOKENS, type Trace } from "./trace.ts";

/**
 * `node bench/economics/fit-sizes.ts`: fits `NEW_TOKEN_EFFECT` of src/decide/reuse.ts on training data only
 * (the Mooncake training half and each synthetic workload's training seed; never what the report shows) and
 * prints the literal to paste there. No Stoker decision enters: from the traces alone, each request's new
 * tokens (those beyond the longest prefix any earlier request sent, and beyond its head: a head is judged
 * by its own traffic), whether that prefix reaches beyond the head (the request continues a conversation
 * sent before) or not (it starts one), and whether a later request sends its whole prefix again (through its
 * last full block) within 5 minutes. A workload's level is its own (the tenant's tables learn it), so the
 * effect of a size class is stratified by workload: its returns over what the workload's own return rate
 * expected of the same requests (of continued requests alone, for the history's effect). A class with fewer
 * than `MIN_EXPECTED` expected returns is pooled with the class below it; with too few even so, it keeps 1.
 */

const MIN_EXPECTED = 50;
const WINDOW_MS = 300_000;

/** Requests and returns within 5 minutes per class, for requests that start a conversation and that continue one. */
export interface SizeCounts {
  n: number[];
  returns: number[];
}

/** Per stratum (starting, continuing) and class: requests and returns within 5 minutes, for one trace. */
export function sizeCounts(trace: Trace, headBlocks = 1): { starting: SizeCounts; continuing: SizeCounts } {
  const empty = (): SizeCounts => ({
    n: NEW_TOKEN_CLASSES.map(() => 0),
    returns: NEW_TOKEN_CLASSES.map(() => 0),
  });
  const out = { starting: empty(), continuing: empty() };
  const sentAt = new Map<string, number[]>();
  for (const r of trace.requests)
    r.ids.forEach((id, k) => {
      const key = `${k}:${id}`;
      const times = sentAt.get(key);
      if (times) times.push(r.atMs);
      else sentAt.set(key, [r.atMs]);
    });
  const seen = new Set<number>();
  for (const r of trace.requests) {
    let known = 0;
    while (known < r.ids.length && seen.has(r.ids[known] as number)) known++;
    const head = Math.min(headBlocks, r.ids.length);
    const stratum = known > head ? out.continuing : out.starting;
    known = Math.max(known, head);
    for (const id of r.ids) seen.add(id);
    const full = Math.min(r.ids.length, Math.floor(r.inputTokens / BLOCK_TOKENS));
    if (full <= known) continue; // nothing new through a full block: nothing a write would add
    const c = newTokenClass(r.inputTokens - known * BLOCK_TOKENS);
    const back = (sentAt.get(`${full - 1}:${r.ids[full - 1]}`) ?? []).some(
      (t) => t > r.atMs && t - r.atMs <= WINDOW_MS,
    );
    stratum.n[c] = (stratum.n[c] ?? 0) + 1;
    if (back) stratum.returns[c] = (stratum.returns[c] ?? 0) + 1;
  }
  return out;
}

/**
 * The effect per class: returns over the returns each workload's own rate expected, over all requests (a new
 * tail's, whose level the tenant's tables learn per turn class) and over continued requests alone (a
 * conversation's history, whose level is its own count).
 */
export function fitSizes(traces: readonly { trace: Trace; headBlocks?: number }[]): NewTokenEffect {
  const effectOf = (pick: (c: ReturnType<typeof sizeCounts>) => SizeCounts): number[] => {
    const seen = NEW_TOKEN_CLASSES.map(() => 0);
    const expected = NEW_TOKEN_CLASSES.map(() => 0);
    for (const t of traces) {
      const c = pick(sizeCounts(t.trace, t.headBlocks));
      const total = c.n.reduce((a, b) => a + b, 0);
      if (total === 0) continue;
      const rate = c.returns.reduce((a, b) => a + b, 0) / total;
      for (let i = 0; i < NEW_TOKEN_CLASSES.length; i++) {
        seen[i] = (seen[i] ?? 0) + (c.returns[i] ?? 0);
        expected[i] = (expected[i] ?? 0) + (c.n[i] ?? 0) * rate;
      }
    }
    return seen.map((s, i) => {
      const e = expected[i] ?? 0;
      if (e >= MIN_EXPECTED) return round(s / e);
      const below = i > 0 ? (expected[i - 1] ?? 0) : 0;
      return e + below >= MIN_EXPECTED && i > 0 ? round((s + (seen[i - 1] ?? 0)) / (e + below)) : 1;
    });
  };
  const both = (c: ReturnType<typeof sizeCounts>): SizeCounts => ({
    n: c.starting.n.map((x, i) => x + (c.continuing.n[i] ?? 0)),
    returns: c.starting.returns.map((x, i) => x + (c.continuing.returns[i] ?? 0)),
  });
  return { tail: effectOf(both), history: effectOf((c) => c.continuing) };
}

const round = (x: number): number => Math.round(x * 100) / 100;

/** The training traces, each with its head (Mooncake: block 0; a synthetic workload: its shared head). */
export function trainingTraces(): { trace: Trace; headBlocks?: number }[] {
  return [
    { trace: trainingHalf(loadTrace(join(import.meta.dirname, "../data/mooncake_conversation.jsonl"))) },
    ...syntheticWorkloads("training").map((w) => ({ trace: w.trace, headBlocks: w.rootPosition })),
  ];
}

if (import.meta.main) {
  const effect = fitSizes(trainingTraces());
  console.log(
    `export const NEW_TOKEN_EFFECT: NewTokenEffect = {\n  tail: [${effect.tail.join(", ")}],\n  history: [${effect.history.join(", ")}],\n};`,
  );
}

import { syntheticWorkloads } from "./synthetic.ts";

/**
 * `node bench/economics/fit-hold.ts [--report]`: what `KEEPALIVE_CAPTURE_HOLD_MS` (src/core/config.ts) buys on
 * the synthetic agent workloads' training seeds (`--report`: the report's seeds, to check). The edge holds a
 * conversation's keepalive capture when its previous one came within the hold, and the capture never travels
 * when the conversation's next one comes within the hold too (src/edge/capture-hold.ts); the gaps between a
 * conversation's requests, start to start, stand for those between their records (answers of similar length).
 * Prints, per hold and workload, the share of requests whose capture never travels.
 */

const HOLDS_MS = [5_000, 10_000, 20_000];

/** Per conversation (the first block past the workload's shared head), its requests' start times in order. */
function conversations(w: ReturnType<typeof syntheticWorkloads>[number]): number[][] {
  const byRoot = new Map<number, number[]>();
  for (const r of [...w.trace.requests].sort((a, b) => a.atMs - b.atMs)) {
    const root = r.ids[w.rootPosition];
    if (root === undefined) continue;
    const times = byRoot.get(root) ?? [];
    times.push(r.atMs);
    byRoot.set(root, times);
  }
  return [...byRoot.values()];
}

/** Requests whose capture is held (the previous came within `holdMs`) and replaced (the next within it too). */
function untravelled(times: readonly number[], holdMs: number): number {
  let n = 0;
  for (let i = 1; i + 1 < times.length; i++)
    if (
      (times[i] as number) - (times[i - 1] as number) <= holdMs &&
      (times[i + 1] as number) - (times[i] as number) <= holdMs
    )
      n++;
  return n;
}

const set = process.argv.includes("--report") ? "report" : "training";
for (const w of syntheticWorkloads(set).filter((x) => x.name.startsWith("Agent"))) {
  const convs = conversations(w);
  const shares = HOLDS_MS.map((h) => {
    const n = convs.reduce((sum, times) => sum + untravelled(times, h), 0);
    return `${h / 1000} s ${((100 * n) / w.trace.requests.length).toFixed(1)} %`;
  });
  console.log(`${w.name} (${set} seed ${w.seed}, ${w.trace.requests.length} requests): ${shares.join(", ")}`);
}

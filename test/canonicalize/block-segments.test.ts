import { describe, expect, it } from "vitest";
import { BlockSegments } from "../../src/canonicalize/block-segments.ts";
import { blockKey } from "../../src/canonicalize/shared.ts";

const entries = (b: BlockSegments): [number, number][] => {
  const out: [number, number][] = [];
  b.forEach((k, v) => {
    out.push([k, v]);
  });
  return out;
};

describe("BlockSegments", () => {
  it("answers as a Map would, for keys set in feed order and out of it", () => {
    // A seeded walk of sets, in order mostly, sometimes back over a key or into a gap.
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const b = BlockSegments.empty();
    const m = new Map<number, number>();
    let message = 0;
    for (let step = 0; step < 2_000; step++) {
      const r = next();
      if (r < 0.8) message++;
      const key =
        r < 0.9 ? blockKey(message, Math.floor(next() * 4)) : blockKey(Math.floor(next() * message), 0);
      b.set(key, step);
      m.set(key, step);
    }
    expect(entries(b)).toEqual([...m].sort((x, y) => x[0] - y[0]));
    for (let k = 0; k < 200; k++) {
      const key = blockKey(Math.floor(next() * (message + 2)), Math.floor(next() * 5));
      expect(b.get(key)).toBe(m.get(key));
    }
  });

  it("copies apart: a resumed state's sets never reach the checkpoint it came from", () => {
    const kept = BlockSegments.empty();
    kept.set(blockKey(0, 0), 0);
    kept.set(blockKey(1, 0), 1);
    const resumed = kept.copy();
    resumed.set(blockKey(2, 0), 2);
    resumed.set(blockKey(1, 0), 9);
    expect(entries(kept)).toEqual([
      [blockKey(0, 0), 0],
      [blockKey(1, 0), 1],
    ]);
    expect(entries(resumed)).toEqual([
      [blockKey(0, 0), 0],
      [blockKey(1, 0), 9],
      [blockKey(2, 0), 2],
    ]);
    expect(kept.get(blockKey(2, 0))).toBeUndefined();
  });
});

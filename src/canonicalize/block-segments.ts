/** What a checkpoint keeps of a `BlockSegments`: read and copied, never changed. */
export interface ReadonlyBlockSegments {
  get(key: number): number | undefined;
  /** Each block's key and segment, keys ascending. */
  forEach(fn: (key: number, segment: number) => void): void;
  copy(): BlockSegments;
}

/**
 * The segment index of each message block (by `blockKey`), kept as two packed arrays in key order: blocks
 * are fed in that order, so `set` appends, and a copy (a checkpoint taken, a later turn resumed from one:
 * twice a turn) is two slices. A Map copied there re-inserted every entry: 77 KB and about 0.09 ms a later
 * turn at 100K tokens in Node, 478 blocks.
 */
export class BlockSegments implements ReadonlyBlockSegments {
  private readonly keys: number[];
  private readonly segments: number[];

  private constructor(keys: number[], segments: number[]) {
    this.keys = keys;
    this.segments = segments;
  }

  static empty(): BlockSegments {
    return new BlockSegments([], []);
  }

  copy(): BlockSegments {
    return new BlockSegments(this.keys.slice(), this.segments.slice());
  }

  get(key: number): number | undefined {
    const i = this.lowerBound(key);
    return this.keys[i] === key ? this.segments[i] : undefined;
  }

  set(key: number, segment: number): void {
    const n = this.keys.length;
    if (n === 0 || (this.keys[n - 1] as number) < key) {
      this.keys.push(key);
      this.segments.push(segment);
      return;
    }
    // Out of order (no analyzer feeds so today): kept sorted all the same.
    const i = this.lowerBound(key);
    if (this.keys[i] === key) this.segments[i] = segment;
    else {
      this.keys.splice(i, 0, key);
      this.segments.splice(i, 0, segment);
    }
  }

  forEach(fn: (key: number, segment: number) => void): void {
    for (let i = 0; i < this.keys.length; i++) fn(this.keys[i] as number, this.segments[i] as number);
  }

  /** The first index whose key is at least `key`. */
  private lowerBound(key: number): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.keys[mid] as number) < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

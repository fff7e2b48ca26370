import { type ChainWriter, isDeferredDigest } from "./chain.ts";
import type { CacheTtl, ClientBreakpoint, Segment, SegmentKind, SegmentLoc } from "./types.ts";

export interface SegmentListState {
  readonly list: readonly Segment[];
  readonly clientBreakpoints: readonly ClientBreakpoint[];
  readonly cumulative: number;
  readonly position: number;
}

/** Collects segments in order with cumulative tokens, lookback positions, digests and client markers. */
export class SegmentList {
  readonly list: Segment[] = [];
  readonly clientBreakpoints: ClientBreakpoint[] = [];
  private cumulative = 0;
  private position = 0;

  private readonly writer: ChainWriter;

  /** A new list, or one that goes on after `from` (its segments and markers, in order). */
  constructor(writer: ChainWriter, from?: SegmentListState) {
    this.writer = writer;
    if (from) {
      this.list.push(...from.list);
      this.clientBreakpoints.push(...from.clientBreakpoints);
      this.cumulative = from.cumulative;
      this.position = from.position;
    }
  }

  /** What a list holds so far, to go on from later. */
  state(): SegmentListState {
    return {
      list: [...this.list],
      clientBreakpoints: [...this.clientBreakpoints],
      cumulative: this.cumulative,
      position: this.position,
    };
  }

  /** Closes a segment whose bytes were just fed; `digest` takes its chain hash. Returns its index. */
  add(
    kind: SegmentKind,
    loc: SegmentLoc,
    type: string,
    tokens: number,
    breakpointable: boolean,
    digest: boolean,
    extra: { role?: string; volatile?: boolean } = {},
  ): number {
    this.cumulative += tokens;
    const segment: Segment = {
      kind,
      loc,
      type,
      tokens,
      cumulativeTokens: this.cumulative,
      breakpointable,
      position: kind === "params" ? this.position : this.position++,
    };
    if (extra.role !== undefined) segment.role = extra.role;
    if (extra.volatile) segment.volatile = true;
    if (digest) segment.hash = this.writer.digest();
    this.list.push(segment);
    return this.list.length - 1;
  }

  /** Records a client's cache marker on segment `at` (the one just added unless said). */
  mark(ttl: CacheTtl, nested = false, at = this.list.length - 1): void {
    const bp: ClientBreakpoint = { segment: at, ttl };
    if (nested) bp.nested = true;
    this.clientBreakpoints.push(bp);
  }

  get totalTokens(): number {
    return this.cumulative;
  }

  /**
   * Chain hashes worth asking the tracker about: every digested breakpoint-able segment, latest first (a
   * deferring writer's placeholders are no hashes).
   */
  candidates(): string[] {
    const seen = new Set<string>();
    for (let i = this.list.length - 1; i >= 0; i--) {
      const s = this.list[i];
      if (s?.hash && s.breakpointable && !isDeferredDigest(s.hash)) seen.add(s.hash);
    }
    return [...seen];
  }
}

/** A client marker's TTL: `{type: "ephemeral", ttl?}` (Anthropic) or OpenAI's breakpoint object. */
export function markerTtl(marker: unknown, fallback: CacheTtl): CacheTtl | null {
  if (marker === undefined || marker === null) return null;
  if (typeof marker === "object" && (marker as { ttl?: unknown }).ttl === "1h") return "1h";
  return fallback;
}

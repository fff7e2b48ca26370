import { BLOCK_TOKENS, type Trace, type TraceLine, traceFromLines } from "../economics/trace.ts";
import { BlockIds, PrefixForest } from "./forest.ts";
import { type BodyRequest, type ParsedLine, type Provider, parseLine } from "./parse.ts";

/**
 * A user's traffic log read line by line into a replayable trace (bench/economics/trace.ts). Pure: the CLI
 * feeds it lines; tests feed it strings. Bad lines are counted and kept (the first `keepSkipped` of them,
 * with their line numbers) and never stop the run.
 */

export type LogFormat = "mooncake" | "bodies";

export interface SkippedLine {
  /** 1-based line number in the file. */
  line: number;
  reason: string;
}

/** The trace of a log, ready for the replay, and what was read to make it. */
export interface LogTrace {
  trace: Trace;
  format: LogFormat;
  /** Non-blank lines read. */
  lines: number;
  requests: number;
  skippedCount: number;
  /** The first skipped lines (up to `keepSkipped`), in file order. */
  skipped: SkippedLine[];
  /** Body logs: requests per provider. */
  providers: Partial<Record<Provider, number>>;
  /** Distinct block ids of the trace (prefix blocks of 512 tokens). */
  blocks: number;
}

interface Pending {
  atMs: number;
  nodes: Int32Array;
  totalTokens: number;
  headTokens: number;
}

export class LogReader {
  private format: LogFormat | null = null;
  private formatLine = 0;
  private readonly traceLines: TraceLine[] = [];
  private readonly bodies: Pending[] = [];
  private readonly forest = new PrefixForest();
  private readonly providers: Partial<Record<Provider, number>> = {};
  private lines = 0;
  private skippedCount = 0;
  readonly skipped: SkippedLine[] = [];
  private readonly keepSkipped: number;
  private readonly onSkip: ((s: SkippedLine) => void) | undefined;

  constructor(opts: { keepSkipped?: number; onSkip?: (s: SkippedLine) => void } = {}) {
    this.keepSkipped = opts.keepSkipped ?? 1000;
    this.onSkip = opts.onSkip;
  }

  get requests(): number {
    return this.traceLines.length + this.bodies.length;
  }

  get skippedLines(): number {
    return this.skippedCount;
  }

  /** Reads one line (`lineNo` is 1-based). Returns what the line was taken for. */
  push(text: string, lineNo: number): ParsedLine {
    const parsed = parseLine(text);
    if (parsed.kind === "blank") return parsed;
    this.lines++;
    if (parsed.kind === "error") {
      this.skip(lineNo, parsed.reason);
      return parsed;
    }
    const format: LogFormat = parsed.kind === "trace" ? "mooncake" : "bodies";
    if (this.format === null) {
      this.format = format;
      this.formatLine = lineNo;
    } else if (this.format !== format) {
      const reason =
        format === "mooncake"
          ? `a trace line in a log of request bodies (line ${this.formatLine} set the format)`
          : `a request body in a Mooncake trace (line ${this.formatLine} set the format)`;
      this.skip(lineNo, reason);
      return { kind: "error", reason };
    }
    if (parsed.kind === "trace") this.traceLines.push(parsed.line);
    else this.addBody(parsed.request);
    return parsed;
  }

  private skip(line: number, reason: string): void {
    this.skippedCount++;
    const s = { line, reason };
    if (this.skipped.length < this.keepSkipped) this.skipped.push(s);
    this.onSkip?.(s);
  }

  private addBody(r: BodyRequest): void {
    this.providers[r.provider] = (this.providers[r.provider] ?? 0) + 1;
    this.bodies.push({
      atMs: r.atMs,
      nodes: this.forest.add(r.digests),
      totalTokens: r.totalTokens,
      headTokens: r.headTokens,
    });
  }

  /** The trace of every valid line (null when there is none). */
  finish(): LogTrace | null {
    if (this.format === null || this.requests === 0) return null;
    const lines = this.format === "mooncake" ? denseIds(this.traceLines) : this.bodyLines();
    const trace = traceFromLines(lines);
    return {
      trace,
      format: this.format,
      lines: this.lines,
      requests: trace.requests.length,
      skippedCount: this.skippedCount,
      skipped: this.skipped,
      providers: this.providers,
      blocks: trace.blockCount,
    };
  }

  /** Body requests as trace lines: block ids from the forest, times from the first request on. */
  private bodyLines(): TraceLine[] {
    const ids = new BlockIds();
    let start = Number.POSITIVE_INFINITY;
    for (const b of this.bodies) start = Math.min(start, b.atMs);
    return this.bodies.map((b) => {
      const head = Math.floor(b.headTokens / BLOCK_TOKENS);
      return {
        timestamp: b.atMs - start,
        input_length: b.totalTokens,
        output_length: 0,
        hash_ids: this.forest.blocks(
          b.nodes.length > 0 ? (b.nodes.at(-1) as number) : -1,
          b.totalTokens,
          ids,
        ),
        head_blocks: head,
        root_block: head,
      };
    });
  }
}

/** A trace's block ids renumbered densely in order of first appearance (a user's ids may be sparse or huge). */
function denseIds(lines: readonly TraceLine[]): TraceLine[] {
  const map = new Map<number, number>();
  return lines.map((l) => ({
    ...l,
    hash_ids: l.hash_ids.map((id) => {
      let d = map.get(id);
      if (d === undefined) {
        d = map.size;
        map.set(id, d);
      }
      return d;
    }),
  }));
}

/** Reads a whole log held in memory (tests, small files). */
export function readLog(text: string, opts: { keepSkipped?: number } = {}): LogTrace | null {
  const reader = new LogReader(opts);
  text.split("\n").forEach((line, i) => {
    reader.push(line, i + 1);
  });
  return reader.finish();
}

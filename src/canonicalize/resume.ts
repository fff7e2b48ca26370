import type { Hash } from "node:crypto";
import { ChainWriter } from "../prefix/chain.ts";
import { SegmentList, type SegmentListState } from "../prefix/segments.ts";
import type { CanonicalEdit, Segment } from "../prefix/types.ts";
import type { AnalysisState, Head } from "./analysis.ts";
import type { ReadonlyBlockSegments } from "./block-segments.ts";
import { MARKER_KEYS } from "./feed.ts";
import { isObj, type Json } from "./json.ts";
import type { CanonicalizeRules, RuleName } from "./rules.ts";

/**
 * The state an analysis had after its last message: a later turn of the same conversation (the same head,
 * the same messages and more) goes on from it instead of feeding the whole history again. Everything here
 * is read only once kept; the message objects are the parsed request's own, never changed after parsing.
 */
export interface Checkpoint {
  /** Characters of the request it came from: what keeping it costs, for the memo's bound. */
  readonly chars: number;
  /** What the head was fed from (compared exactly). */
  readonly system: unknown;
  readonly tools: unknown;
  /** The messages level's inputs, as JSON. */
  readonly params: string;
  readonly messages: readonly Json[];
  readonly hash: Hash;
  readonly segments: SegmentListState;
  readonly segmentOf: ReadonlyBlockSegments;
  readonly applied: readonly RuleName[];
  readonly edits: readonly CanonicalEdit[];
  readonly conversation: string;
  readonly head: Head;
}

/**
 * Checkpoints kept between requests (by the edge, per isolate, bounded); `key` names what the chain starts
 * from (tenant salt, upstream, model, parameters, rules), so checkpoints under one key share h0.
 */
export interface AnalysisMemo {
  find(key: string): readonly Checkpoint[];
  /** Keeps `checkpoints` (the deepest first) in place of `replaces`, the one the request went on from. */
  keep(key: string, checkpoints: readonly Checkpoint[], replaces: Checkpoint | null): void;
  /** Whether a later turn's body will carry this body's parsed message objects (a body of `chars` characters). */
  reusesMessages?(chars: number): boolean;
}

/** Whether two parsed JSON values are the same, key order included. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i] as string;
    if (k !== kb[i] || !sameJson((a as Json)[k], (b as Json)[k])) return false;
  }
  return true;
}

/**
 * Whether two blocks feed the chain alike: the same keys in any order (blocks are fed sorted), cache
 * markers aside, each value the same (payloads in order), blocks nested under `nested` compared alike.
 */
export function sameBlock(a: Json, b: Json, nested: ReadonlySet<string>): boolean {
  if (a === b) return true;
  let count = 0;
  for (const k in a) {
    if (MARKER_KEYS.has(k) || a[k] === undefined) continue;
    count++;
    const x = a[k];
    const y = b[k];
    if (nested.has(k) && Array.isArray(x)) {
      if (!Array.isArray(y) || x.length !== y.length) return false;
      for (let i = 0; i < x.length; i++) {
        const u = x[i];
        const v = y[i];
        const blocks = isObj(u) && isObj(v);
        if (blocks ? !sameBlock(u, v, nested) : !sameJson(u, v)) return false;
      }
    } else if (!sameJson(x, y)) return false;
  }
  for (const k in b) if (!MARKER_KEYS.has(k) && b[k] !== undefined) count--;
  return count === 0;
}

/**
 * The state `s` would have after feeding `cp`'s head and messages again (equal inputs, equal chain), with
 * digests where this request's plan wants them among messages `fromMessage` on (those before are the head,
 * always digested where `cp` was) and the first `breakpoints` client markers of `cp`. Null when the plan
 * wants a digest `cp` did not take (the request is analyzed from the start).
 */
export function resumeAnalysis<S extends AnalysisState>(
  s: S,
  cp: Checkpoint,
  breakpoints: number,
  fromMessage = 0,
): S | null {
  const list = [...cp.segments.list];
  let missing = false;
  cp.segmentOf.forEach((key, at) => {
    const message = Math.floor(key / 1_000_000);
    if (missing || message < fromMessage) return;
    const seg = list[at] as Segment;
    const want = s.plan.has(message, key % 1_000_000);
    if (want && seg.hash === undefined) missing = true;
    else if (!want && seg.hash !== undefined) {
      const { hash: _, ...rest } = seg;
      list[at] = rest;
    }
  });
  if (missing) return null;
  const writer = new ChainWriter(s.h0, cp.hash);
  return {
    ...s,
    writer,
    segs: new SegmentList(writer, {
      list,
      clientBreakpoints: cp.segments.clientBreakpoints.slice(0, breakpoints),
      cumulative: cp.segments.cumulative,
      position: cp.segments.position,
    }),
    applied: new Set(cp.applied),
    edits: [...cp.edits],
    segmentOf: cp.segmentOf.copy(),
  };
}

/** Where a request's checkpoints are kept: its chain root, rules and first message (markers aside). */
export function memoKey(h0: string, family: string, rules: CanonicalizeRules, first: Json): string {
  return `${h0}\n${family}\n${JSON.stringify(rules)}\n${firstMessageKey(first)}`;
}

/** What a checkpoint takes from its request; the rest is the analysis state's. */
export type CheckpointFields = Pick<
  Checkpoint,
  "system" | "tools" | "params" | "messages" | "head" | "conversation"
>;

/** The state `s` holds now, after `fields.messages`, as a checkpoint (copied: feeding more changes `s`). */
export function checkpointOf(s: AnalysisState, fields: CheckpointFields): Checkpoint {
  return {
    ...fields,
    chars: s.raw.length,
    hash: s.writer.snapshot(),
    segments: s.segs.state(),
    segmentOf: s.segmentOf.copy(),
    applied: [...s.applied],
    edits: [...s.edits],
  };
}

/** The checkpoint a request goes on from: its conversation's (under `key`), else its head's. */
export function findCheckpoint(
  memo: AnalysisMemo,
  key: string,
  headKey: string,
  continues: (cp: Checkpoint) => boolean,
): Checkpoint | undefined {
  return (key ? memo.find(key).find(continues) : undefined) ?? memo.find(headKey).find(continues);
}

/**
 * Keeps a request's checkpoints under `key`: after its last message, and before it (`beforeLast`, or the
 * one it went on from when that one stood just there and was past the head's `headMessages`).
 */
export function keepTurn(
  memo: AnalysisMemo,
  key: string,
  end: Checkpoint,
  beforeLast: Checkpoint | null,
  from: Checkpoint | undefined,
  headMessages: number,
): void {
  const last = end.messages.length - 1;
  const before = beforeLast ?? (from && from.messages.length === last && last > headMessages ? from : null);
  memo.keep(key, before ? [end, before] : [end], from ?? null);
}

/** Where head checkpoints are kept (the state before any conversation message): a new conversation's start. */
export function headMemoKey(h0: string, family: string, rules: CanonicalizeRules): string {
  return `${h0}\n${family}\n${JSON.stringify(rules)}\nhead`;
}

/** A short name for a conversation's first message (its role, size and opening; markers aside). */
function firstMessageKey(m: Json): string {
  const role = typeof m.role === "string" ? m.role : "";
  const content = m.content;
  if (typeof content === "string") return `${role}:s${content.length}:${content.slice(0, 128)}`;
  const blocks = Array.isArray(content) ? content : [];
  const first: unknown = blocks[0];
  const text = isObj(first) && typeof first.text === "string" ? first.text : "";
  return `${role}:b${blocks.length}:${isObj(first) ? String(first.type) : ""}:${text.length}:${text.slice(0, 128)}`;
}

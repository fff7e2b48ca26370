import type { ChainWriter } from "../prefix/chain.ts";
import { type FeedOptions, feedValue, MARKER_KEYS } from "./feed.ts";
import {
  canonicalCopy,
  hasCrlf,
  isObj,
  type Json,
  keysSorted,
  setOwn,
  sortedKeys,
  toolSortKey,
} from "./json.ts";
import type { CanonicalizeRules, RuleName } from "./rules.ts";

/** Message ends digested for the tracker: the latest this many (a previous turn's tail is among them). */
export const RECENT_MESSAGE_DIGESTS = 16;

export interface MessageShape {
  role: string;
  /** Index of the last block that can take a breakpoint, or -1. */
  lastCacheable: number;
  /** Blocks that carry the client's own marker. */
  marked: number[];
}

export interface DigestPlan {
  /** Whether block `block` of message `message` gets a digest. */
  has(message: number, block: number): boolean;
  continues: boolean;
  /** `blockKey` of the previous turn's last breakpoint-able block, or -1. */
  previousTurnEnd: number;
}

/** One number per message block, for maps and sets on the hot path. */
export function blockKey(message: number, block: number): number {
  return message * 1_000_000 + block;
}

/**
 * Which message blocks get a chain digest: the last breakpoint-able block of the latest messages, every
 * client-marked block, and the end of the previous turn (the conversation up to the last assistant message,
 * where a stateless Stoker wrote last time).
 */
export function digestPlan(shapes: readonly MessageShape[], recent: number): DigestPlan {
  const keys = new Set<number>();
  let found = 0;
  for (let i = shapes.length - 1; i >= 0 && found < recent; i--) {
    const s = shapes[i] as MessageShape;
    if (s.lastCacheable >= 0) {
      keys.add(blockKey(i, s.lastCacheable));
      found++;
    }
  }
  shapes.forEach((s, i) => {
    for (const j of s.marked) keys.add(blockKey(i, j));
  });
  let assistant = -1;
  for (let i = shapes.length - 2; i >= 0; i--) {
    if (shapes[i]?.role === "assistant") {
      assistant = i;
      break;
    }
  }
  let previousTurnEnd = -1;
  for (let i = assistant - 1; i >= 0; i--) {
    const s = shapes[i] as MessageShape;
    if (s.lastCacheable >= 0) {
      previousTurnEnd = blockKey(i, s.lastCacheable);
      keys.add(previousTurnEnd);
      break;
    }
  }
  return {
    has: (message, block) => keys.has(blockKey(message, block)),
    continues: assistant >= 0,
    previousTurnEnd,
  };
}

export interface CanonicalTools {
  /** Original indices in canonical order. */
  order: number[];
  /** The canonical tools array when it differs from the client's, else null. */
  value: unknown[] | null;
  applied: RuleName[];
}

/** Canonical order and form of a tool list; `schemaPath` leads to each tool's JSON schema. */
export function canonicalTools(
  tools: readonly Json[],
  rules: CanonicalizeRules,
  schemaPath: readonly string[],
  clientMarked: (tool: Json) => boolean,
): CanonicalTools {
  const identity = tools.map((_, i) => i);
  let order = identity;
  const applied: RuleName[] = [];
  if (rules.toolOrder && tools.length > 1 && !tools.some(clientMarked)) {
    const keys = tools.map(toolSortKey);
    order = [...identity].sort((a, b) => {
      const ka = keys[a] as string;
      const kb = keys[b] as string;
      return ka < kb ? -1 : ka > kb ? 1 : a - b;
    });
    if (order.some((v, i) => v !== i)) applied.push("toolOrder");
    else order = identity;
  }
  if (rules.schemaKeys && tools.some((t) => !keysSorted(at(t, schemaPath)))) applied.push("schemaKeys");
  if (rules.lineEndings && tools.some(hasCrlf)) applied.push("lineEndings");
  if (applied.length === 0) return { order, value: null, applied };
  const value = order.map((i) => canonicalTool(tools[i] as Json, schemaPath, rules));
  return { order, value, applied };
}

/** The value at `path` through nested objects, or undefined. */
export function at(v: unknown, path: readonly string[]): unknown {
  let cur = v;
  for (const k of path) cur = isObj(cur) ? cur[k] : undefined;
  return cur;
}

// The tool copied once: CRLF -> LF throughout (lineEndings), keys sorted inside the schema (schemaKeys).
function canonicalTool(tool: Json, schemaPath: readonly string[], rules: CanonicalizeRules): Json {
  return copyAlong(tool, schemaPath, rules) as Json;
}

function copyAlong(v: Json, path: readonly string[], rules: CanonicalizeRules): Json {
  const out: Json = {};
  for (const k of Object.keys(v)) {
    const x = v[k];
    const copy =
      k !== path[0]
        ? canonicalCopy(x, false, rules.lineEndings)
        : path.length === 1
          ? x === undefined
            ? x
            : canonicalCopy(x, rules.schemaKeys, rules.lineEndings)
          : isObj(x)
            ? copyAlong(x, path.slice(1), rules)
            : canonicalCopy(x, false, rules.lineEndings);
    setOwn(out, k, copy);
  }
  return out;
}

/**
 * Feeds an object whose keys are structural except along `path`, where the payload options apply (a tool
 * whose schema sits at function.parameters, a response format whose schema sits at json_schema.schema).
 * Cache markers at the top level are skipped.
 */
export function feedAlong(
  w: ChainWriter,
  obj: Json,
  path: readonly string[],
  structural: FeedOptions,
  payload: FeedOptions,
  top = true,
): number {
  let tokens = 1;
  w.tag("{");
  for (const k of sortedKeys(obj)) {
    const x = obj[k];
    if (x === undefined || (top && MARKER_KEYS.has(k))) continue;
    w.str(k);
    if (k === path[0] && path.length === 1) tokens += feedValue(w, x, payload);
    else if (k === path[0] && isObj(x)) tokens += feedAlong(w, x, path.slice(1), structural, payload, false);
    else tokens += feedValue(w, x, structural);
    tokens += 1;
  }
  w.tag("}");
  return tokens;
}

import type { AnalysisMemo, Checkpoint } from "../canonicalize/resume.ts";
import { MIN_CHARS as MIN_BODY_CHARS } from "./body-memo.ts";

/**
 * The isolate's analysis checkpoints (canonicalize/resume.ts): a conversation's next turn through this
 * isolate feeds only its new messages. Bounded by design: at most MAX_CHARS characters of the requests the
 * checkpoints hold (their parsed messages stay alive), MAX_CHECKPOINTS in all and PER_KEY per tenant, chain
 * root and first message; the least recently used go first. Keys start with the tenant's id, and a checkpoint is only
 * ever read by the tenant that left it.
 */
export const MAX_CHARS = 8 * 1024 * 1024;
export const MAX_CHECKPOINTS = 512;
/** Checkpoints per key: conversations that open alike, a history a client rewrote, heads of one root. */
export const PER_KEY = 4;

const kept = new Map<string, Checkpoint[]>();
let chars = 0;
let count = 0;

/** The memo one tenant's requests read and leave checkpoints in. */
export function analysisMemo(tenantId: string): AnalysisMemo {
  return {
    find(key) {
      const k = `${tenantId}\n${key}`;
      const list = kept.get(k);
      if (!list) return [];
      kept.delete(k);
      kept.set(k, list);
      return list;
    },
    keep(key, checkpoints, replaces) {
      const k = `${tenantId}\n${key}`;
      const list = kept.get(k) ?? [];
      const old = replaces ? list.indexOf(replaces) : -1;
      if (old >= 0) drop(list, old);
      for (const cp of [...checkpoints].reverse()) {
        if (cp.chars > MAX_CHARS / 4) continue;
        list.unshift(cp);
        chars += cp.chars;
        count++;
      }
      while (list.length > PER_KEY) drop(list, list.length - 1);
      kept.delete(k);
      if (list.length > 0) kept.set(k, list);
      for (const [other, l] of kept) {
        const over = () => chars > MAX_CHARS || count > MAX_CHECKPOINTS;
        if (!over()) break;
        while (l.length > (other === k ? 1 : 0) && over()) drop(l, l.length - 1);
        if (l.length === 0) kept.delete(other);
      }
    },
    // Bodies of this size are kept and the next turn parsed after them, sharing their messages (body-memo.ts).
    reusesMessages: (chars) => chars >= MIN_BODY_CHARS,
  };
}

function drop(list: Checkpoint[], at: number): void {
  const [gone] = list.splice(at, 1);
  if (!gone) return;
  chars -= gone.chars;
  count--;
}

/** What the memo holds (tests and the memory benchmark). */
export function analysisMemoSize(): { checkpoints: number; chars: number } {
  return { checkpoints: count, chars };
}

/** Forgets every checkpoint (tests). */
export function clearAnalysisMemo(): void {
  kept.clear();
  chars = 0;
  count = 0;
}

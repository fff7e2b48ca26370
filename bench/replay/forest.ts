import { BLOCK_TOKENS } from "../economics/trace.ts";
import type { Digest } from "./parse.ts";

/**
 * From chain digests to the replay's 512-token blocks (bench/economics/engine.ts), for request bodies.
 *
 * The analyzer digests a prompt only at some segments (head end, the latest messages, the previous turn's
 * end: src/canonicalize/shared.ts), and not at the same ones in every request: turn 9 of a conversation
 * digests messages 2-17, turn 10 messages 4-19. Equal digests mean equal prefixes, so whatever one request
 * says about a prefix holds in every request that shares it. The forest merges that knowledge: a node per
 * distinct digest, its parent the deepest prefix of it any request has shown. The prefixes of one prompt
 * are the node of its deepest digest and that node's ancestors.
 *
 * Block k of a prompt (tokens 512k up to 512(k+1), or to the end for a last partial block) is named by the
 * shallowest prefix on the prompt's path that covers it, together with k. Two prompts then share block k
 * exactly when some digest proves that they agree through the block's end (never more: the replay does not
 * credit a hit the prompts' bytes do not support; less only where no digest falls between the block's end
 * and the point where they diverge, i.e. within one segment). Ids come out chained, as Mooncake's: sharing
 * block k implies sharing blocks 0..k-1, whose covering prefixes are ancestors of block k's. Blocks past the
 * deepest digest get ids of their own.
 */
export class PrefixForest {
  private readonly index = new Map<string, number>();
  private readonly parent: number[] = [];
  private readonly depth: number[] = [];
  private readonly tokens: number[] = [];

  get size(): number {
    return this.parent.length;
  }

  /** Adds one prompt's digests (in segment order); returns its node ids in the same order. */
  add(digests: readonly Digest[]): Int32Array {
    const nodes = new Int32Array(digests.length);
    digests.forEach((d, i) => {
      nodes[i] = this.intern(d);
    });
    for (let i = 1; i < nodes.length; i++) this.link(nodes[i] as number, nodes[i - 1] as number);
    return nodes;
  }

  private intern(d: Digest): number {
    let n = this.index.get(d.hash);
    if (n === undefined) {
      n = this.parent.length;
      this.index.set(d.hash, n);
      this.parent.push(-1);
      this.depth.push(d.depth);
      this.tokens.push(d.tokens);
    }
    return n;
  }

  /**
   * Records that `ancestor` is a prefix of `child`: inserts it into child's chain of ancestors at its depth,
   * merging the two chains (both are prefixes of one prompt, so they interleave by depth).
   */
  private link(child: number, ancestor: number): void {
    let c = child;
    let a = ancestor;
    for (;;) {
      if (c === a || (this.depth[a] as number) >= (this.depth[c] as number)) return;
      const p = this.parent[c] as number;
      if (p === a) return;
      if (p === -1 || (this.depth[p] as number) < (this.depth[a] as number)) {
        this.parent[c] = a;
        if (p === -1) return;
        // p is a shallower prefix of the same prompt: it goes into a's chain next.
        c = a;
        a = p;
        continue;
      }
      // Two different prefixes at one depth of one prompt cannot happen with a collision-free hash: stop.
      if (this.depth[p] === this.depth[a]) return;
      c = p;
    }
  }

  /** The block ids of a prompt of `totalTokens` whose deepest digest is `deepest` (-1: none). */
  blocks(deepest: number, totalTokens: number, ids: BlockIds): number[] {
    const path: number[] = [];
    for (let n = deepest; n !== -1; n = this.parent[n] as number) path.push(n);
    path.reverse();
    const count = Math.ceil(totalTokens / BLOCK_TOKENS);
    const out = new Array<number>(count);
    let p = 0;
    for (let k = 0; k < count; k++) {
      const end = Math.min(BLOCK_TOKENS * (k + 1), totalTokens);
      while (p < path.length && (this.tokens[path[p] as number] as number) < end) p++;
      const node = path[p];
      out[k] = node === undefined ? ids.fresh() : ids.named(node, k);
    }
    return out;
  }
}

/** Dense block ids: one per (covering prefix, position), plus fresh ones for blocks no digest covers. */
export class BlockIds {
  private readonly byKey = new Map<number, number>();
  private next = 0;

  get count(): number {
    return this.next;
  }

  named(node: number, position: number): number {
    // node < 2^31 and position < 2^21 (a billion tokens): the key is an exact double.
    const key = node * 2 ** 21 + position;
    let id = this.byKey.get(key);
    if (id === undefined) {
      id = this.next++;
      this.byKey.set(key, id);
    }
    return id;
  }

  fresh(): number {
    return this.next++;
  }
}

import { Lru } from "./lru.ts";

/**
 * The vLLM-like core of one GPU backend: a block-level KV cache of fixed capacity and a scheduler, on a clock
 * the caller drives. The HTTP backend (app.ts) runs it on the wall clock; the routing benchmark runs many of
 * them on a virtual clock. Web-standard only (runs in Node and in workerd).
 *
 * What it models, and how:
 * - KV cache: `capacityTokens / blockTokens` blocks of `blockTokens` (16) tokens. A prompt's full blocks are
 *   identified by chained hashes the caller computes (the salt is in the chain, as vLLM's `cache_salt` is in
 *   its first block's key). A request reuses the longest run of leading blocks present (capped so that at
 *   least one prompt token is computed, as vLLM does); its other blocks are allocated, evicting the least
 *   recently used free blocks. Blocks stay referenced while the request runs; when it ends they become free
 *   but cached, tail first, so that a prompt's head outlives its tail. Decode blocks are anonymous.
 * - Time: prefill is one FIFO server at `prefillTokensPerS` (uncached tokens only) plus a fixed overhead per
 *   request; a request also waits for enough free blocks. Decode runs concurrently for every running request
 *   at `decodeTokensPerS` per sequence. TTFT = queueing + prefill; the request ends after its output.
 * - Not modelled: chunked prefill interleaving with decode, preemption, batch-size effects on decode speed.
 */

export interface EngineOptions {
  /** Tokens per KV block (vLLM's default is 16). */
  blockTokens?: number;
  /** KV cache capacity in tokens. */
  capacityTokens: number;
  /** Prefill throughput of the backend, in uncached prompt tokens per second. */
  prefillTokensPerS: number;
  /** Decode speed of one sequence, in tokens per second. */
  decodeTokensPerS: number;
  /** Fixed time per request in the prefill server (scheduling, the first decode step). */
  overheadMs?: number;
}

/** One request as the engine sees it: the hashes of its prompt's full blocks, in order. */
export interface EngineRequest<K> {
  blocks: ArrayLike<K>;
  promptTokens: number;
  outputTokens: number;
}

/** What the engine decided for a request at admission. */
export interface Admission {
  cachedTokens: number;
  /** When its prefill starts (after the queue and the wait for memory). */
  startAt: number;
  firstTokenAt: number;
  doneAt: number;
  /** Blocks evicted to make room for it. */
  evicted: number;
}

export interface EngineStats {
  requests: number;
  promptTokens: number;
  cachedTokens: number;
  /** Time the prefill server was busy. */
  prefillBusyMs: number;
  evictedBlocks: number;
}

interface Running<K> {
  blocks: K[];
  anonymous: number;
  doneAt: number;
}

/** The KV cache and scheduler of one backend. */
export class KvEngine<K> {
  readonly blockTokens: number;
  readonly capacityBlocks: number;
  readonly opts: Required<EngineOptions>;
  /** Reference count of every cached block (0: free but cached, evictable). */
  readonly #refs = new Map<K, number>();
  /** Free cached blocks, least recently used first. */
  readonly #free = new Lru<K>();
  #anonymous = 0;
  /** Blocks referenced by a running request. */
  #inUse = 0;
  #running: Running<K>[] = [];
  #prefillFreeAt = 0;
  #now = 0;
  readonly stats: EngineStats = {
    requests: 0,
    promptTokens: 0,
    cachedTokens: 0,
    prefillBusyMs: 0,
    evictedBlocks: 0,
  };

  constructor(opts: EngineOptions) {
    this.opts = { blockTokens: 16, overheadMs: 0, ...opts };
    this.blockTokens = this.opts.blockTokens;
    this.capacityBlocks = Math.max(1, Math.floor(opts.capacityTokens / this.blockTokens));
  }

  /** Blocks that hold a prompt block (in use or free but cached). */
  get cachedBlocks(): number {
    return this.#refs.size;
  }

  /** Requests admitted and not yet finished at the engine's current time. */
  get running(): number {
    return this.#running.length;
  }

  /** True when the block is cached. */
  holds(key: K): boolean {
    return this.#refs.has(key);
  }

  /** How many leading blocks of `blocks` are cached now (what a request would reuse). */
  cachedPrefix(blocks: ArrayLike<K>): number {
    let n = 0;
    while (n < blocks.length && this.#refs.has(blocks[n] as K)) n++;
    return n;
  }

  /** Ends every request that finished by `t` (in finishing order). */
  advance(t: number): void {
    if (t > this.#now) this.#now = t;
    if (this.#running.length === 0 || (this.#running[0] as Running<K>).doneAt > t) return;
    while (this.#running.length > 0 && (this.#running[0] as Running<K>).doneAt <= t) {
      this.#release(this.#running.shift() as Running<K>);
    }
  }

  /** Admits a request arriving at `nowMs` (calls must come in time order) and plans its timeline. */
  submit(req: EngineRequest<K>, nowMs: number): Admission {
    this.advance(nowMs);
    const B = this.blockTokens;
    const maxHit = Math.max(0, Math.floor((req.promptTokens - 1) / B));
    let hit = 0;
    while (hit < req.blocks.length && hit < maxHit && this.#refs.has(req.blocks[hit] as K)) hit++;
    const anonymous = Math.max(0, Math.ceil((req.promptTokens + req.outputTokens) / B) - req.blocks.length);

    // Wait for memory: what must be held once admitted (blocks in use, this request's cached-but-free blocks,
    // its new blocks, decode blocks) may not exceed the cache; running requests end in doneAt order, and a
    // later request starts no earlier than this one anyway.
    let fresh = anonymous;
    let reclaimed = 0;
    for (let i = 0; i < req.blocks.length; i++) {
      const refs = this.#refs.get(req.blocks[i] as K);
      if (refs === undefined) fresh++;
      else if (refs === 0) reclaimed++;
    }
    let memoryAt = nowMs;
    let deficit = this.#inUse + this.#anonymous + reclaimed + fresh - this.capacityBlocks;
    if (deficit > 0 && this.#running.length > 0) {
      const ours = new Set<K>();
      for (let i = 0; i < req.blocks.length; i++) ours.add(req.blocks[i] as K);
      while (deficit > 0 && this.#running.length > 0) {
        const first = this.#running.shift() as Running<K>;
        memoryAt = Math.max(memoryAt, first.doneAt);
        const freed = this.#release(first, ours);
        deficit -= freed.blocks - freed.ours + first.anonymous;
      }
    }

    let evicted = 0;
    const held: K[] = [];
    for (let i = 0; i < req.blocks.length; i++) {
      const key = req.blocks[i] as K;
      const refs = this.#refs.get(key);
      if (refs !== undefined) {
        if (refs === 0) {
          this.#free.delete(key);
          this.#inUse++;
        }
        this.#refs.set(key, refs + 1);
        held.push(key);
        continue;
      }
      if (this.#refs.size + this.#anonymous >= this.capacityBlocks) {
        if (!this.#evictOne()) continue; // larger than the whole cache: this block is not kept
        evicted++;
      }
      this.#refs.set(key, 1);
      this.#inUse++;
      held.push(key);
    }
    let anon = 0;
    for (let i = 0; i < anonymous; i++) {
      if (this.#refs.size + this.#anonymous + anon >= this.capacityBlocks) {
        if (!this.#evictOne()) break;
        evicted++;
      }
      anon++;
    }
    this.#anonymous += anon;

    const cachedTokens = hit * B;
    const uncached = req.promptTokens - cachedTokens;
    const prefillMs = this.opts.overheadMs + (uncached / this.opts.prefillTokensPerS) * 1000;
    const startAt = Math.max(nowMs, memoryAt, this.#prefillFreeAt);
    const firstTokenAt = startAt + prefillMs;
    this.#prefillFreeAt = firstTokenAt;
    const doneAt = firstTokenAt + (Math.max(0, req.outputTokens - 1) / this.opts.decodeTokensPerS) * 1000;
    this.#insertRunning({ blocks: held, anonymous: anon, doneAt });

    this.stats.requests++;
    this.stats.promptTokens += req.promptTokens;
    this.stats.cachedTokens += cachedTokens;
    this.stats.prefillBusyMs += prefillMs;
    this.stats.evictedBlocks += evicted;
    return { cachedTokens, startAt, firstTokenAt, doneAt, evicted };
  }

  /** Drops every cached block and running request (a restart). */
  reset(): void {
    this.#refs.clear();
    this.#free.clear();
    this.#anonymous = 0;
    this.#inUse = 0;
    this.#running = [];
    this.#prefillFreeAt = 0;
  }

  #evictOne(): boolean {
    const oldest = this.#free.oldest();
    if (!oldest) return false;
    this.#free.delete(oldest.key);
    this.#refs.delete(oldest.key);
    return true;
  }

  /** Ends a request; returns how many blocks it left unreferenced, and how many of those are in `ours`. */
  #release(r: Running<K>, ours?: ReadonlySet<K>): { blocks: number; ours: number } {
    this.#anonymous -= r.anonymous;
    let blocks = 0;
    let mine = 0;
    // Tail first, so the head of a prompt is the most recently used and the last to be evicted.
    for (let i = r.blocks.length - 1; i >= 0; i--) {
      const key = r.blocks[i] as K;
      const refs = (this.#refs.get(key) ?? 1) - 1;
      if (refs <= 0) {
        this.#refs.set(key, 0);
        this.#free.set(key, 0);
        this.#inUse--;
        blocks++;
        if (ours?.has(key)) mine++;
      } else this.#refs.set(key, refs);
    }
    return { blocks, ours: mine };
  }

  #insertRunning(r: Running<K>): void {
    const list = this.#running;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((list[mid] as Running<K>).doneAt <= r.doneAt) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, r);
  }
}

interface Node<K> {
  key: K;
  at: number;
  prev: Node<K> | null;
  next: Node<K> | null;
}

/**
 * Keys in recency order with a timestamp each: a map plus a doubly linked list, O(1) per operation. (A bare
 * `Map` re-inserted to move keys to the end is quadratic here: V8 leaves deleted entries as holes that every
 * walk from the oldest end skips again.)
 */
export class Lru<K> {
  readonly #nodes = new Map<K, Node<K>>();
  #oldest: Node<K> | null = null;
  #newest: Node<K> | null = null;

  get size(): number {
    return this.#nodes.size;
  }

  /** The key's timestamp, or undefined. */
  get(key: K): number | undefined {
    return this.#nodes.get(key)?.at;
  }

  has(key: K): boolean {
    return this.#nodes.has(key);
  }

  /** Puts the key at the newest end with timestamp `at`. */
  set(key: K, at: number): void {
    let node = this.#nodes.get(key);
    if (node) this.#unlink(node);
    else {
      node = { key, at, prev: null, next: null };
      this.#nodes.set(key, node);
    }
    node.at = at;
    node.prev = this.#newest;
    node.next = null;
    if (this.#newest) this.#newest.next = node;
    this.#newest = node;
    if (!this.#oldest) this.#oldest = node;
  }

  delete(key: K): boolean {
    const node = this.#nodes.get(key);
    if (!node) return false;
    this.#unlink(node);
    this.#nodes.delete(key);
    return true;
  }

  /** The least recently set key and its timestamp. */
  oldest(): { key: K; at: number } | undefined {
    return this.#oldest ? { key: this.#oldest.key, at: this.#oldest.at } : undefined;
  }

  clear(): void {
    this.#nodes.clear();
    this.#oldest = null;
    this.#newest = null;
  }

  #unlink(node: Node<K>): void {
    if (node.prev) node.prev.next = node.next;
    else this.#oldest = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.#newest = node.prev;
    node.prev = null;
    node.next = null;
  }
}

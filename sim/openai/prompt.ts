import { Hasher } from "../hash.ts";

/** Cache hits come in whole chunks of this many tokens. */
export const CHUNK_TOKENS = 128;
/** Routing hashes this many leading tokens. */
export const HEAD_TOKENS = 256;
/** Prompts shorter than this are never cached, and no shorter prefix is reported as cached. */
export const MIN_CACHED_TOKENS = 1024;

/**
 * A place the prompt could be cached at on GPT-5.6+ (the end of a content part or of a message): the prefix
 * through it, and whether it is a breakpoint (explicit `prompt_cache_breakpoint`, or the end of a message
 * that can take the implicit one).
 */
export interface PromptBoundary {
  tokens: number;
  /** Identifies tokens [0, tokens). */
  hash: string;
  explicit: boolean;
  /** The end of a user, system, developer or tool message (where the implicit breakpoint can fall). */
  implicit: boolean;
}

/** A rendered OpenAI prompt: its token count and the chain hash at every 128-token boundary. */
export interface OpenAIPrompt {
  tokens: number;
  /** `chunkHashes[k]` identifies tokens [0, 128 * (k + 1)). */
  chunkHashes: string[];
  /** Identifies the first HEAD_TOKENS tokens (the whole prompt when shorter). */
  headHash: string;
  /** Part and message ends in order (used by the GPT-5.6+ breakpoint cache; absent from hand-built prompts). */
  boundaries?: PromptBoundary[];
}

/**
 * Turns prompt segments into a token sequence: a text segment is its UTF-8 bytes in 4-byte tokens (so it has
 * ceil(bytes / 4) tokens, like the Anthropic side), a media segment a fixed number of tokens. Each segment's
 * header (role, kind) is hashed into its first token, so equal text under another role is another prompt.
 */
export class PromptBuilder {
  #hasher: Hasher;
  #encoder = new TextEncoder();
  #tokens = 0;
  #chunks: string[] = [];
  #head: string | undefined;
  #boundaries: PromptBoundary[] = [];

  constructor(seed: string) {
    this.#hasher = new Hasher(seed);
  }

  /** Appends a text segment. */
  text(header: string, text: string): this {
    this.#hasher.string(header);
    const bytes = this.#encoder.encode(text);
    for (let i = 0; i < bytes.length; i += 4) {
      this.#hasher.bytes(bytes, i, Math.min(i + 4, bytes.length));
      this.#tick();
    }
    return this;
  }

  /** Appends a segment of `count` tokens identified by `identity` (an image, a file). */
  fixed(header: string, identity: string, count: number): this {
    this.#hasher.string(header).string(identity);
    for (let j = 0; j < count; j++) {
      this.#hasher.unit(j & 0xffff);
      this.#tick();
    }
    return this;
  }

  /**
   * Records the current position as a boundary (a part or message end). A second call at the same position
   * merges into the first: a part that ends a message is one boundary.
   */
  boundary(explicit = false, implicit = false): this {
    const last = this.#boundaries.at(-1);
    if (last && last.tokens === this.#tokens) {
      last.explicit ||= explicit;
      last.implicit ||= implicit;
      return this;
    }
    this.#boundaries.push({ tokens: this.#tokens, hash: this.#hasher.digest(), explicit, implicit });
    return this;
  }

  #tick(): void {
    this.#tokens++;
    if (this.#tokens % CHUNK_TOKENS === 0) this.#chunks.push(this.#hasher.digest());
    if (this.#tokens === HEAD_TOKENS) this.#head = this.#hasher.digest();
  }

  finish(): OpenAIPrompt {
    return {
      tokens: this.#tokens,
      chunkHashes: this.#chunks,
      headHash: this.#head ?? this.#hasher.digest(),
      boundaries: this.#boundaries,
    };
  }
}

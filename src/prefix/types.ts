import type { CanonicalizeRules, RuleName } from "../canonicalize/rules.ts";
import type { ModelInfo } from "../economics/models.ts";

export type Upstream = "anthropic" | "openai-chat" | "openai-responses" | "gemini";

/** A provider TTL on a client's own breakpoint (Anthropic `cache_control.ttl`; OpenAI's are "30m"). */
export type CacheTtl = "5m" | "1h" | "30m";

/** Tools come first, then system/instructions, the cache-affecting parameters of the messages level, then messages. */
export type SegmentKind = "tool" | "system" | "params" | "message";

/**
 * Where a segment is in the wire body. `index`: tool index, system block index (-1 when system or
 * instructions is a string), or message / input item index. `block`: content block or part index, -1 for
 * string content, -2 for an input item that is not a message (function_call, reasoning, ...).
 * `toolCall`: an OpenAI Chat assistant's tool call. `inserted`: a block Stoker appends (volatileToTail).
 */
export interface SegmentLoc {
  area: "tools" | "system" | "params" | "messages";
  index: number;
  block?: number;
  toolCall?: number;
  inserted?: true;
}

export interface Segment {
  kind: SegmentKind;
  loc: SegmentLoc;
  /** Message role, for message segments. */
  role?: string;
  /** Block type (text, image, tool_use, input_text, tool_call, ...), "tool", "system" or "params". */
  type: string;
  tokens: number;
  /** Estimated prompt tokens through the end of this segment. */
  cumulativeTokens: number;
  /**
   * Chain hash through the end of this segment. Computed only where a breakpoint can matter (head end,
   * tools end, recent message ends, client breakpoints, the previous turn's end): a digest costs a few
   * microseconds in workerd and a 100K-token request has hundreds of segments.
   */
  hash?: string;
  /** The provider accepts a cache marker here (not thinking, not empty text, not assistant output on OpenAI). */
  breakpointable: boolean;
  /** Lookback position: counts content blocks, tools and system blocks (not the params pseudo-segment). */
  position: number;
  /** Holds a date, time, UUID or request-id-like span (checked in tools and system only). */
  volatile?: boolean;
}

export interface ClientBreakpoint {
  segment: number;
  ttl: CacheTtl;
  /** The marker sits on a block nested in a tool_result rather than on the segment's own block. */
  nested?: true;
}

/** A value the canonical request has at `path` instead of the client's (re-serialized by render). */
export interface CanonicalEdit {
  path: readonly (string | number)[];
  value: unknown;
}

export interface OpenAIClientCache {
  promptCacheKey?: string;
  retention?: string;
  /** The client set `prompt_cache_options` itself. */
  options?: { mode?: string; ttl?: string };
}

/** What the engine knows of one request: its canonical form, segments, chain and the client's cache markers. */
export interface Analysis {
  upstream: Upstream;
  model: string;
  /** The client's body text, for render. */
  raw: string;
  h0: string;
  /** Hash of h0 and the stable head (tools + system): requests of one family share their head. */
  family: string;
  /** Hash through the first message after the head: one conversation keeps it across turns. */
  conversation: string;
  /** Index of the last tools/system segment, -1 when there is none. */
  headEnd: number;
  segments: Segment[];
  /** Chain hashes to ask the tracker about (breakpoint-able positions only), deduplicated. */
  candidates: string[];
  clientBreakpoints: ClientBreakpoint[];
  /** Anthropic top-level `cache_control` (automatic mode): its TTL, or null. */
  autoCache: CacheTtl | null;
  openai?: OpenAIClientCache;
  /** Bedrock Converse: where each analyzed block sits in the Converse body (its cachePoints removed). */
  converse?: ConverseMap;
  /** Gemini: the explicit cache the client named itself (`cachedContent`), if any. */
  gemini?: { clientCache: string | null };
  canonical: { changed: boolean; applied: RuleName[]; edits: CanonicalEdit[] };
  totalTokens: number;
  /** The request continues a conversation (an assistant turn precedes the last message). */
  continues: boolean;
  /** Stateless guess of the segment where the previous turn's request ended (its tail breakpoint), or -1. */
  previousTurnEnd: number;
  /** Positions after the conversation's key hold placeholder digests (`AnalyzeInput.deferMessages`). */
  deferred?: true;
}

/**
 * A Converse body analyzed as the Anthropic body it stands for: for each Anthropic tool, system block and
 * message block, its index in the Converse array (`toolConfig.tools`, `system`, `messages[i].content`),
 * which also holds the client's `cachePoint` blocks.
 */
export interface ConverseMap {
  tools: number[];
  system: number[];
  messages: number[][];
}

export interface AnalyzeInput {
  raw: string;
  body: Record<string, unknown>;
  /**
   * A body analyzed before whose leading `messages` items are this body's own (the same parsed objects: a
   * later turn parsed after it, edge/body-memo.ts); what was learned of those items is reused.
   */
  sharedWith?: Record<string, unknown>;
  /** The tenant's secret salt (h0 is an HMAC over it). */
  salt: string;
  rules: CanonicalizeRules;
  /** The request's model row, looked up once by the edge; looked up here when absent (tests, the replay). */
  model?: ModelInfo;
  /** The model's name, where the wire format carries it outside the body (Gemini: in the URL). */
  modelId?: string;
  /**
   * When no checkpoint of the request's conversation is found (the isolate never analyzed it), hash nothing
   * after the conversation's key: its later positions get placeholder digests (`isDeferredDigest`), the
   * analysis says `deferred`, and no checkpoint of the conversation is kept. Analyzers without a memo ignore
   * it. The caller analyzes the request again, without it, where the hashes are needed (edge/prepare.ts).
   */
  deferMessages?: boolean;
}

import type { RpcResult } from "../core/rpc.ts";
import type { Outlook, PrefixState } from "../plan/types.ts";
import type { ChainSummary } from "../prefix/diff.ts";
import type { Calibration } from "../prefix/tokens.ts";
import type { SegmentLoc } from "../prefix/types.ts";
import type { Accounting } from "../upstream/accounting.ts";
import type { AnswerEnd } from "../upstream/answer.ts";
import type { ProviderMiss } from "../upstream/diagnostics.ts";
import type { Usage } from "../upstream/usage.ts";

/** One chain position of a request, in prompt order, as the tracker stores it. */
export interface PositionRecord {
  hash: string;
  /** Estimated prompt tokens through this position. */
  tokens: number;
  /** The provider was asked to cache here (client's or Stoker's breakpoint), with this TTL. */
  breakpoint: "5m" | "1h" | "30m" | null;
}

/**
 * What a keepalive ping would replay: the forwarded request (canonical, planned) and where its deepest
 * breakpoint is. Sent only for managed tenants; sealed (AES-GCM) before it is stored.
 */
export interface KeepaliveCapture {
  conversation: string;
  hash: string;
  loc: SegmentLoc;
  ttl: "5m" | "1h";
  /** Upstream path and query, e.g. `/v1/messages?beta=true`. */
  path: string;
  /** The forwarded headers without credentials (versions and betas shape the cache too). */
  headers: [string, string][];
  /**
   * The forwarded body; null in a record whose edge holds it back (`src/edge/capture-hold.ts`): it follows in
   * `keepCaptures` unless a later turn of the conversation supersedes it first.
   */
  body: CaptureBody | null;
}

/**
 * A captured body: the bytes the edge sent upstream where it has them (cloned into the RPC as one copy,
 * where a string made of the render's pieces is first made flat), else its text (and from an edge of an
 * earlier version, during a deploy).
 */
export type CaptureBody = Uint8Array | string;

/** A capture with its body: what the edge builds, and what `Tracker.keepCaptures` takes after its record. */
export interface WholeCapture extends KeepaliveCapture {
  body: CaptureBody;
}

/**
 * What the edge hands the tracker after a response (via waitUntil): the request's accounting (its
 * `requests` row) and what the tracker learns of its prefix. One flat object on the wire.
 */
export interface RecordRequest extends Accounting, PrefixFacts {
  tenantId: string;
}

/** What a record tells the tracker beyond its accounting: its prefix (none for GPU pools and Stoker's own requests), prices, capture. */
export interface PrefixFacts {
  family: string | null;
  /** Hash through the first message: the same for every turn of one conversation. */
  conversation: string | null;
  /** Estimated total prompt tokens: scales estimates to the provider's reported count. */
  estimatedTokens: number;
  positions: PositionRecord[];
  /** The request's chain, kept briefly to diagnose the next request's misses (cache-busters). */
  chain: ChainSummary | null;
  /** USD per prompt token at the base price, and the read discount, for pricing a buster's lost tokens. */
  pricing: { inputPerToken: number; cacheRead: number; cacheWrite5m?: number };
  /** What a ping would replay, for managed tenants whose request wrote or read a breakpoint. */
  capture: KeepaliveCapture | null;
  /** Redacted excerpts of the request's volatile tools/system segments, for the cache-buster report. */
  excerpts?: SegmentExcerpt[];
  /** Anthropic: the answer's message id, sent back as the conversation's next `previous_message_id`. */
  messageId?: string | null;
  /** Anthropic cache diagnostics: the provider's reason for this request's miss. */
  providerMiss?: ProviderMiss | null;
  /** How the answer ended: a tool call (the client comes back when it has run) or a reply, where it said. */
  answer?: AnswerEnd | null;
}

/** A redacted line of one segment (volatile values replaced by their kind). */
export interface SegmentExcerpt {
  segment: number;
  excerpt: string;
}

/** One cache-buster finding. */
export interface BusterFinding {
  at: number;
  requestId: string;
  kind: string;
  segment: number;
  message: number | null;
  volatile: boolean;
  tokensLost: number;
  costUsd: number;
  /** The redacted volatile line behind it, when one was found (decrypted for the tenant's own reads). */
  excerpt?: string;
  /** Anthropic cache diagnostics: the provider's own reason for the same miss, when it gave one. */
  providerReason?: string | null;
}

export type LookupResult = Record<string, PrefixState>;

/** Which family and model a lookup plans for: the rate and calibration it answers with are theirs. */
export interface LookupScope {
  family: string;
  model: string;
  /** With a conversation, the answer names the message id to diagnose its next request against. */
  conversation?: string;
}

/** The id of the last answer of the request's conversation (else of its upstream and model), if known. */
export interface DiagnosticsFacts {
  previousMessageId?: string;
}

/** What planning needs beyond the prefix states: the family's request rate and the model's calibration. */
export interface PlanFacts {
  /** Requests per minute of the family (decayed count, tracker/plan-inputs.ts). */
  familyRatePerMin?: number;
  /** Reported/estimated prompt tokens of the tenant's requests to the model; absent until one is known. */
  calibration?: Calibration;
  /** When the family's heads and the scope's conversation's tails come back (tracker/conversation-state.ts). */
  outlook?: Outlook;
  /** The same for a conversation of the family the tracker has not seen: what an isolate plans a new one by. */
  familyOutlook?: Outlook;
}

/** What `lookup` answers: the states of the hashes it knows and, with a scope, the plan facts. */
export interface LookupAnswer extends PlanFacts, DiagnosticsFacts {
  states: LookupResult;
}

/**
 * What `record` answers: whether the request was counted now, and its positions' states after the update,
 * with its family's rate and its model's calibration (as `lookup` would answer with the record's scope).
 */
export interface RecordAnswer extends PlanFacts, DiagnosticsFacts {
  counted: boolean;
  /** As `lookup` would answer for the request's positions at its start time; absent without positions. */
  states?: LookupResult;
}

/**
 * What `recordMany` answers: one result per record, in order. `retry` marks a record the tracker could not
 * store this time (its transaction failed): the edge sends it again; a refused one (`ok: false`) it does not.
 */
export type RecordBatchAnswer = (RpcResult<RecordAnswer> | { ok: false; error: string; retry: true })[];

/** Sums over a tenant's accounting rows: the usage fields, summed, plus counts and money. */
export interface Totals extends Usage {
  requests: number;
  costUsd: number;
  costWithoutCacheUsd: number;
}

/** What one keepalive run did. */
export interface KeepaliveReport {
  due: number;
  pinged: number;
  refreshed: number;
  gone: number;
  stopped: number;
  skipped: number;
  costUsd: number;
}

/** A tenant's storage: SQLite bytes, rows per table, and the row bounds that apply. */
export interface TenantStorage {
  bytes: number;
  rows: Record<string, number>;
  limits: { requests: number; lineages: number };
}

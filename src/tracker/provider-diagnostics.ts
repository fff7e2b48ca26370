import { LIMITS } from "./schema.ts";
import type { RecordRequest } from "./types.ts";

// Anthropic cache diagnostics (docs/analytics.md "Provider diagnostics"): the last answer's message id per
// conversation and per lineage (upstream + model), so the edge can ask the provider why the next request
// missed; and the provider's answer, kept on the request's row.

const conversationKey = (conversation: string) => `c:${conversation}`;
const lineageKey = (upstream: string, model: string) => `l:${upstream}:${model}`;

/**
 * Keeps the request's message id as the last of its conversation and of its lineage, and the provider's
 * cache-miss reason on its accounting row. Call inside the record's transaction, after the row is inserted.
 */
export function noteDiagnostics(sql: SqlStorage, r: RecordRequest): void {
  if (r.providerMiss)
    sql.exec(
      "UPDATE requests SET miss_reason = ?, missed_tokens = ? WHERE request_id = ?",
      r.providerMiss.reason,
      r.providerMiss.missedTokens,
      r.requestId,
    );
  if (!r.messageId || r.keepalive || r.result !== "ok") return;
  const keys = [lineageKey(r.upstream, r.model)];
  if (r.conversation !== null) keys.push(conversationKey(r.conversation));
  for (const key of keys)
    sql.exec(
      `INSERT INTO last_messages (key, message_id, at) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET message_id = excluded.message_id, at = excluded.at
         WHERE excluded.at >= last_messages.at`,
      key,
      r.messageId,
      r.at,
    );
}

/**
 * The message id to diagnose a request against: its conversation's last answer, else (a conversation's
 * first turn, e.g. after its system prompt changed) the last answer of the same upstream and model.
 */
export function previousMessageId(
  sql: SqlStorage,
  scope: { conversation?: string; model: string },
  upstream = "anthropic",
): string | undefined {
  const keys = [lineageKey(upstream, scope.model)];
  if (scope.conversation !== undefined) keys.unshift(conversationKey(scope.conversation));
  for (const key of keys) {
    const row = sql
      .exec<{ message_id: string }>("SELECT message_id FROM last_messages WHERE key = ?", key)
      .toArray()[0];
    if (row) return row.message_id;
  }
  return undefined;
}

/** Keeps the newest LIMITS.conversations ids. */
export function trimLastMessages(sql: SqlStorage): void {
  sql.exec(
    "DELETE FROM last_messages WHERE key IN (SELECT key FROM last_messages ORDER BY at DESC LIMIT -1 OFFSET ?)",
    LIMITS.conversations,
  );
}

/**
 * Why a request's body is not the whole prompt, or null when it is. The provider holds the rest of the
 * conversation, so the body's chain is not the prompt's: Stoker must not plan from it, remember it as a
 * prefix, or keep it for keepalive pings (docs/server-state.md).
 * - Anthropic Threads: `thread` (`create` too: a thread takes no `cache_control`, and a replayed create would
 *   start another thread).
 * - OpenAI Responses: `previous_response_id` or `conversation`.
 */
export function heldByServer(
  body: Record<string, unknown>,
): "thread" | "previous_response" | "conversation" | null {
  const set = (v: unknown) => v !== undefined && v !== null;
  if (set(body.thread)) return "thread";
  if (set(body.previous_response_id)) return "previous_response";
  if (set(body.conversation)) return "conversation";
  return null;
}

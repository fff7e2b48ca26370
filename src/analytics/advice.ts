/** What to change in a prompt for each kind of cache-buster (shown by the API and the dashboard). */
export function adviceFor(kind: string, volatile: boolean): string {
  if (volatile)
    return "A date, time or id sits in the stable head of the prompt. Move it to the last user message (or enable Stoker's volatileToTail rule with x-stoker-canonicalize: volatileToTail).";
  switch (kind) {
    case "tools":
      return "Tool definitions changed between requests. Keep the tool list and each schema identical (same tools, same descriptions); Stoker already sorts keys and tools when canonicalization is on.";
    case "system":
      return "The system prompt changed between requests. Keep it byte-identical; put per-request details after the cached part.";
    case "params":
      return "A cache-affecting parameter changed (tool_choice, thinking settings, images). Keep it fixed within a conversation.";
    case "message":
      return "An earlier message was edited or reordered. Append new turns instead of rewriting history.";
    default:
      return "The prompt's prefix changed between requests. Keep the repeated part identical.";
  }
}

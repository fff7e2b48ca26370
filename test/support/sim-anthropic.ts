import type { Json } from "./sim.ts";

/** Anthropic headers for a namespace. */
export function anthropicHeaders(ns: string): Record<string, string> {
  return { "x-api-key": ns, "anthropic-version": "2023-06-01" };
}

/** The usage fields a test compares, from a Messages API response. */
export function usageOf(json: Json) {
  const u = json.usage;
  return {
    input: u.input_tokens,
    read: u.cache_read_input_tokens,
    write: u.cache_creation_input_tokens,
    w5m: u.cache_creation.ephemeral_5m_input_tokens,
    w1h: u.cache_creation.ephemeral_1h_input_tokens,
  };
}

/** A system block with a 5m (or given TTL) breakpoint. */
export function cachedSystem(text: string, ttl?: "5m" | "1h") {
  return [{ type: "text", text, cache_control: ttl ? { type: "ephemeral", ttl } : { type: "ephemeral" } }];
}

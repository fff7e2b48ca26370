import { invalid } from "../errors.ts";
import { hashOf } from "../hash.ts";
import { isObject, type JsonObject, without } from "../json.ts";
import type { CacheOutcome } from "./cache.ts";
import type { MessagesRequest } from "./request.ts";

// Cache diagnostics (README "Cache diagnostics"). Shapes from @anthropic-ai/sdk 1.14 (`DiagnosticsParam`,
// `Diagnostics`, `CacheMissReason`): a request's `diagnostics: {previous_message_id}` names this client's
// previous response; the answer's `diagnostics` is `{cache_miss_reason}` when the prefix could not be reused
// and null otherwise. Reasons: model_changed, system_changed, tools_changed, messages_changed ("messages
// differ from the previous request's in an earlier entry, instead of only having entries appended"), each
// with `cache_missed_input_tokens`; previous_message_not_found; unavailable (model, system and tools match
// but other prompt-affecting parameters such as thinking or tool_choice differ).

/**
 * What the simulator remembers of a request, under its response id: each part as a hash of its text (only
 * compared for equality), so that 10,000 of them stay small whatever the prompts' size.
 */
export interface Fingerprint {
  model: string;
  tools: string;
  system: string;
  messages: string[];
  settings: string;
  /** Prompt tokens the request left cached (read or written). */
  cachedTokens: number;
}

const MAX_FINGERPRINTS = 10_000;

/** Fingerprints of one namespace by response id. */
export class Fingerprints {
  #all = new Map<string, Fingerprint>();

  get(id: string): Fingerprint | undefined {
    return this.#all.get(id);
  }

  /** Keeps the latest MAX_FINGERPRINTS (the oldest are forgotten: previous_message_not_found). */
  set(id: string, f: Fingerprint): void {
    this.#all.set(id, f);
    if (this.#all.size > MAX_FINGERPRINTS) {
      const oldest = this.#all.keys().next().value;
      if (oldest !== undefined) this.#all.delete(oldest);
    }
  }

  clear(): void {
    this.#all.clear();
  }
}

const bare = (blocks: JsonObject[]) => JSON.stringify(blocks.map((b) => without(b, "cache_control")));
const bareHash = (blocks: JsonObject[]) => hashOf(bare(blocks));

/** A request's fingerprint: markers removed (they do not change the prompt). */
export function fingerprintOf(req: MessagesRequest, cache: CacheOutcome): Fingerprint {
  return {
    model: req.model,
    tools: bareHash(req.tools),
    system: bareHash(req.system),
    messages: req.messages.map((m) => hashOf(m.role, bare(m.content))),
    settings: JSON.stringify({ tool_choice: req.toolChoice ?? null, thinking: req.thinking ?? null }),
    cachedTokens: cache.read + cache.write5m + cache.write1h,
  };
}

/**
 * The request's `diagnostics.previous_message_id`: undefined without `diagnostics`, null when it opts in
 * without a previous message.
 */
export function parseDiagnostics(v: unknown): string | null | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw invalid("diagnostics: Input should be a valid dictionary");
  const id = v.previous_message_id;
  if (id === undefined || id === null) return null;
  if (typeof id !== "string")
    throw invalid("diagnostics.previous_message_id: Input should be a valid string");
  return id;
}

/** The answer's `diagnostics`: null when there is no previous message or no divergence. */
export function diagnose(
  previous: Fingerprint | undefined | null,
  current: Fingerprint,
  read: number,
): JsonObject | null {
  if (previous === null) return null;
  if (previous === undefined) return { cache_miss_reason: { type: "previous_message_not_found" } };
  const missed = Math.max(0, previous.cachedTokens - read);
  const reason = (type: string) => ({ cache_miss_reason: { type, cache_missed_input_tokens: missed } });
  if (previous.model !== current.model) return reason("model_changed");
  if (previous.tools !== current.tools) return reason("tools_changed");
  if (previous.system !== current.system) return reason("system_changed");
  const appended = previous.messages.every((m, i) => current.messages[i] === m);
  if (!appended) return reason("messages_changed");
  if (previous.settings !== current.settings) return { cache_miss_reason: { type: "unavailable" } };
  return null;
}

import { ProviderError } from "../errors.ts";
import { isObject, type JsonObject } from "../json.ts";

// Anthropic Threads (beta `message-threads-2026-08-12`): the server holds a conversation between turns
// (README "Threads"). Shapes and error codes from the installed @anthropic-ai/sdk 1.14 types:
// `thread: {type: "create"} | {type: "continue", previous_message_id}`; ThreadNotFoundError (404,
// `thread_not_found`), ThreadAlreadyContinuedError (400, `thread_already_continued`: "each response can be
// continued only once"), ThreadFingerprintMismatchError (400), ThreadUnsupportedRequestError (400,
// `unsupported` among cache_control, context_management, fallbacks, hipaa, inference_hooks, thinking); on a
// continue "the server keeps the `system` and `tools` the thread was created with" (lib/threads).

/** What the server holds for one response of a thread. */
export interface ThreadState {
  model: string;
  system: unknown;
  tools: unknown;
  /** The whole conversation through this response (its reply included), as wire messages. */
  messages: unknown[];
  continued: boolean;
}

/** A request's `thread` field. */
export type ThreadParam = { type: "create" } | { type: "continue"; previousMessageId: string };

/**
 * Thread states one namespace keeps: past this the oldest is forgotten, and continuing it is answered as a
 * thread the server no longer has (404 `thread_not_found`). The API documents no lifetime; a bound here
 * keeps a long local session's memory bounded, and forgetting is the less favourable reading.
 */
export const MAX_THREAD_STATES = 10_000;

/** The thread states of one namespace, by response id (the oldest first). */
export class Threads {
  #all = new Map<string, ThreadState>();

  get(id: string): ThreadState | undefined {
    return this.#all.get(id);
  }

  set(id: string, state: ThreadState): void {
    this.#all.delete(id);
    this.#all.set(id, state);
    if (this.#all.size > MAX_THREAD_STATES) {
      const oldest = this.#all.keys().next();
      if (!oldest.done) this.#all.delete(oldest.value);
    }
  }

  get size(): number {
    return this.#all.size;
  }

  clear(): void {
    this.#all.clear();
  }
}

function threadError(
  status: number,
  errorCode: string,
  message: string,
  extra: JsonObject = {},
): ProviderError {
  return new ProviderError({
    status,
    type: status === 404 ? "not_found_error" : "invalid_request_error",
    message,
    details: { error_code: errorCode, ...extra },
  });
}

/** Parses `thread` (undefined when absent or null). */
export function parseThread(v: unknown): ThreadParam | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v))
    throw new ProviderError({ status: 400, message: "thread: Input should be a valid dictionary" });
  if (v.type === "create") return { type: "create" };
  if (v.type === "continue") {
    if (typeof v.previous_message_id !== "string" || v.previous_message_id === "") {
      throw new ProviderError({ status: 400, message: "thread.previous_message_id: Field required" });
    }
    return { type: "continue", previousMessageId: v.previous_message_id };
  }
  throw new ProviderError({ status: 400, message: "thread.type: Input should be 'create' or 'continue'" });
}

function hasCacheControl(body: JsonObject): boolean {
  if (body.cache_control !== undefined && body.cache_control !== null) return true;
  const blocks = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  const marked = (b: unknown) => isObject(b) && b.cache_control !== undefined && b.cache_control !== null;
  if (blocks(body.system).some(marked) || blocks(body.tools).some(marked)) return true;
  return blocks(body.messages).some((m) => isObject(m) && blocks(m.content).some(marked));
}

/**
 * The whole request a thread turn stands for: a create as sent; a continue as the stored conversation plus the
 * new messages, with the thread's system and tools. Throws the SDK-named errors. Marks a continued response.
 */
export function resolveThread(threads: Threads, thread: ThreadParam, body: JsonObject): JsonObject {
  const unsupported: string[] = [];
  if (hasCacheControl(body)) unsupported.push("cache_control");
  if (body.context_management !== undefined && body.context_management !== null)
    unsupported.push("context_management");
  if (isObject(body.thinking) && body.thinking.type !== "disabled") unsupported.push("thinking");
  if (unsupported.length > 0) {
    throw threadError(
      400,
      "thread_unsupported_request",
      `thread: not supported with ${unsupported.join(", ")}`,
      {
        unsupported,
      },
    );
  }
  if (thread.type === "create") return body;
  const state = threads.get(thread.previousMessageId);
  if (!state) {
    throw threadError(
      404,
      "thread_not_found",
      `thread: no thread state for previous_message_id '${thread.previousMessageId}'`,
    );
  }
  if (state.continued) {
    throw threadError(
      400,
      "thread_already_continued",
      `thread: the response '${thread.previousMessageId}' has already been continued`,
    );
  }
  const mismatched: string[] = [];
  if (body.model !== state.model) mismatched.push("model");
  // Sending the stored value again is accepted (_choice_); another value is a mismatch.
  for (const field of ["system", "tools"] as const) {
    if (body[field] !== undefined && JSON.stringify(body[field]) !== JSON.stringify(state[field]))
      mismatched.push(field);
  }
  if (mismatched.length > 0) {
    throw threadError(
      400,
      "thread_fingerprint_mismatch",
      `thread: ${mismatched.join(", ")} differ from the thread's`,
    );
  }
  state.continued = true;
  const added = Array.isArray(body.messages) ? body.messages : [];
  const whole: JsonObject = { ...body, messages: [...state.messages, ...added] };
  if (state.system !== undefined) whole.system = state.system;
  if (state.tools !== undefined) whole.tools = state.tools;
  return whole;
}

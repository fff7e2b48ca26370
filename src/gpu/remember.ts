// What the edge hands the pool object for a later touch: shared by both sides, so neither imports the other.
import type { GpuEndpoint } from "./prompt.ts";

/** Prompts larger than this are not kept for touches (they are sealed and stored in the pool object). */
export const MAX_TOUCH_BYTES = 256 * 1024;
/** What the pool object needs to touch a conversation's latest prompt later. */
export interface RememberInput {
  tenantId: string;
  key: string;
  backend: number;
  endpoint: GpuEndpoint;
  tokens: number;
  chunks: string[];
  /** The touch request's body (the forwarded prompt, one token, not streamed). */
  body: string;
  at: number;
}

import { withinDeadline } from "../core/deadline.ts";
import type { RecordRequest } from "./types.ts";

/**
 * The record queue (RECORD_QUEUE, Cloudflare Queues): records the tenant's tracker did not take within the
 * isolate's tries wait here, durably, and this worker's own consumer (record-delivery.ts) sends them until
 * the tracker has them. A queued record carries no prompt text: its keepalive capture (the whole request)
 * and its cache-buster excerpts stay out (a queue is not the tracker's encrypted store, and a message holds
 * 128 KB); what it is accounted and learned from stays in.
 */

/** A message's body at most: the queue's limit is 128 KB with its metadata. */
export const QUEUED_RECORD_BYTES = 120_000;

const utf8 = new TextEncoder();

/** The record as queued: without its capture and excerpts, and without its chain if it would not fit. */
export function queuedRecord(r: RecordRequest): RecordRequest | null {
  const { excerpts: _excerpts, ...rest } = r;
  const stripped: RecordRequest = { ...rest, capture: null };
  if (fits(stripped)) return stripped;
  // The chain only diagnoses the next request's misses (cache-busters): the accounting matters more.
  const chainless: RecordRequest = { ...stripped, chain: null };
  return fits(chainless) ? chainless : null;
}

function fits(r: RecordRequest): boolean {
  return utf8.encode(JSON.stringify(r)).byteLength <= QUEUED_RECORD_BYTES;
}

/** How long sending one record to the queue may take before it counts as lost. */
const SEND_DEADLINE_MS = 5_000;

/** Sends a record to the queue: true, or why it could not be. Never throws. */
export async function queueRecord(queue: Queue<RecordRequest>, r: RecordRequest): Promise<true | string> {
  const body = queuedRecord(r);
  if (body === null) return "too large for the record queue";
  try {
    const sent = queue.send(body, { contentType: "json" }).then(() => true as const);
    return (await withinDeadline(sent, SEND_DEADLINE_MS)) ?? "the record queue did not answer";
  } catch (err) {
    return `the record queue refused it: ${err instanceof Error ? err.name : "unknown"}`;
  }
}

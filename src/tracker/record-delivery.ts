import type { Logger } from "../core/log.ts";
import { trackerFor } from "./client.ts";
import type { RecordBatchAnswer, RecordRequest } from "./types.ts";
import { MAX_RECORD_BATCH } from "./validate.ts";

/**
 * The record queue's consumer (record-queue.ts): each tenant's queued records go to its tracker in
 * `recordMany` calls; a record the tracker took (counted, or already counted: records are idempotent by
 * request id) or refused (it will never take it) is acknowledged, one it could not take is delivered again
 * later, backing off to every 5 minutes, for about 8 hours (`DELIVERY_ATTEMPTS`, within wrangler.toml's
 * `max_retries`), then logged as lost.
 */

export const DELIVERY_ATTEMPTS = 100;
const RETRY_DELAY_S = 5;
const RETRY_DELAY_MAX_S = 300;

/** Seconds before a message delivered `attempts` times is delivered again. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(RETRY_DELAY_S * 2 ** Math.max(attempts - 1, 0), RETRY_DELAY_MAX_S);
}

export async function deliverQueuedRecords(
  batch: MessageBatch<RecordRequest>,
  env: Env,
  log: Logger,
): Promise<void> {
  const byTenant = new Map<string, Message<RecordRequest>[]>();
  for (const m of batch.messages) {
    const tenant = (m.body as Partial<RecordRequest> | null)?.tenantId;
    if (typeof tenant !== "string" || tenant.length === 0) {
      log.error("record.lost", { reason: "a queued record without a tenant", message_id: m.id });
      m.ack();
      continue;
    }
    const list = byTenant.get(tenant) ?? [];
    list.push(m);
    byTenant.set(tenant, list);
  }
  for (const [tenant, messages] of byTenant)
    for (let i = 0; i < messages.length; i += MAX_RECORD_BATCH)
      await deliver(env, tenant, messages.slice(i, i + MAX_RECORD_BATCH), log);
}

async function deliver(
  env: Env,
  tenant: string,
  messages: Message<RecordRequest>[],
  log: Logger,
): Promise<void> {
  let answers: RecordBatchAnswer | null = null;
  try {
    answers = await trackerFor(env, tenant).recordMany(messages.map((m) => m.body));
  } catch (err) {
    log.warn("tracker.fault", {
      op: "record",
      fault: err instanceof Error ? err.name : "unknown",
      records: messages.length,
      queued: true,
    });
  }
  let delivered = 0;
  for (const [i, m] of messages.entries()) {
    const answer = answers?.[i];
    if (answer === undefined || ("retry" in answer && answer.retry)) {
      if (m.attempts >= DELIVERY_ATTEMPTS) {
        log.error("record.lost", { request_id: m.body.requestId, attempts: m.attempts, queued: true });
        m.ack();
      } else m.retry({ delaySeconds: retryDelaySeconds(m.attempts) });
      continue;
    }
    if (!answer.ok)
      log.warn("tracker.fault", {
        op: "record",
        fault: "rejected",
        request_id: m.body.requestId,
        queued: true,
      });
    else delivered++;
    m.ack();
  }
  if (delivered > 0) log.info("record.delivered", { records: delivered, queued: true });
}

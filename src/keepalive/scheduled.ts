import { trackerFor } from "../tracker/client.ts";
import type { KeepaliveReport } from "../tracker/types.ts";
import { CRON_BATCH, registry } from "./registry.ts";

/** Tracker sweeps run at once per cron invocation, to stay well inside the subrequest limits. */
const CONCURRENCY = 8;
/** The cron runs every minute: it handles what falls due before the next run; alarms handle the rest. */
const CRON_PERIOD_MS = 60_000;

export interface CronReport {
  tenants: number;
  pinged: number;
  costUsd: number;
  failures: number;
}

/**
 * The minute cron: asks the registry which tenants have a keepalive deadline before the next run (never
 * every tenant), and sweeps each one's tracker. A tenant's own alarm usually got there first; its claims
 * make this run a no-op for what it already pinged.
 */
export async function runCron(env: Env, nowMs: number, batch = CRON_BATCH): Promise<CronReport> {
  const tenants = await registry(env).due(nowMs + CRON_PERIOD_MS, batch);
  const report: CronReport = { tenants: tenants.length, pinged: 0, costUsd: 0, failures: 0 };
  let next = 0;
  const worker = async () => {
    while (next < tenants.length) {
      const tenant = tenants[next++] as string;
      try {
        const r = (await trackerFor(env, tenant).runKeepalive(nowMs)) as KeepaliveReport;
        report.pinged += r.pinged;
        report.costUsd += r.costUsd;
      } catch {
        report.failures++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, tenants.length) }, worker));
  return report;
}

import { createApp } from "./app.ts";
import { clockOffset } from "./core/clock.ts";
import { getConfig } from "./core/config.ts";
import { createLogger } from "./core/log.ts";
import { runCron } from "./keepalive/scheduled.ts";
import { deliverQueuedRecords } from "./tracker/record-delivery.ts";
import type { RecordRequest } from "./tracker/types.ts";

export { GpuPool } from "./gpu/pool-object.ts";
export { KeepaliveRegistry } from "./keepalive/registry.ts";
export { TenantDirectory } from "./tenants/directory.ts";
export { Tracker } from "./tracker/tracker.ts";

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(
      runCron(env, controller.scheduledTime + clockOffset()).then((r) =>
        console.log(JSON.stringify({ level: "info", msg: "keepalive.cron", ...r })),
      ),
    );
  },
  /** Records the tracker did not take at once (src/tracker/record-queue.ts), delivered until it has them. */
  async queue(batch, env, _ctx) {
    await deliverQueuedRecords(batch, env, createLogger("record-queue", getConfig(env).logLevel));
  },
} satisfies ExportedHandler<Env, RecordRequest>;

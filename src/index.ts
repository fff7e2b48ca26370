import { createApp } from "./app.ts";
import { clockOffset } from "./core/clock.ts";
import { runCron } from "./keepalive/scheduled.ts";

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
} satisfies ExportedHandler<Env>;

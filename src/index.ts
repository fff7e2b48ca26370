import { createApp } from "./app.ts";

export { KeepaliveRegistry } from "./keepalive/registry.ts";
export { Tracker } from "./tracker/tracker.ts";

const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;

import { Hono } from "hono";
import { advanceClock, clockOffset, freezeClock, now } from "../../core/clock.ts";
import { StokerError } from "../../core/errors.ts";
import { runCron } from "../../keepalive/scheduled.ts";
import { directory } from "../../tenants/directory.ts";
import type { AppEnv } from "../context.ts";

/**
 * `/__dev/clock` (only with DEV_CLOCK=1, which only local development with the simulator accepts): read the
 * shared clock, or move it forward and run the minute cron at the new time, so keepalive deadlines that fell
 * inside the jump are swept at once (alarms set before the jump would fire on the wall clock).
 */
export const devRoutes = new Hono<AppEnv>();

/**
 * `POST /__dev/abort?object=tracker&tenant=<scope>` or `?object=directory` (only with STOKER_LOCAL_DEV, set by
 * `npm start` and `npm run chaos`): the Durable Object resets itself (`ctx.abort()`), as an eviction or a
 * deploy would; its next call starts a new instance over the same storage. `npm run chaos` restarts the
 * trackers and the directory this way under load.
 */
devRoutes.post("/abort", async (c) => {
  if (!c.var.config.loopbackOnly)
    throw new StokerError(404, "not_found_error", `No route for ${c.req.method} ${c.req.path}.`);
  const object = c.req.query("object");
  const tenant = c.req.query("tenant");
  const stub =
    object === "directory"
      ? directory(c.env)
      : object === "tracker" && tenant
        ? c.env.TRACKER.get(c.env.TRACKER.idFromName(tenant))
        : null;
  if (!stub)
    throw new StokerError(400, "invalid_request_error", "object=directory or object=tracker&tenant=<id>");
  let aborted = false;
  try {
    aborted = await stub.chaosAbort();
  } catch {
    aborted = true; // the call itself breaks when the object resets
  }
  return c.json({ object, aborted });
});

/**
 * `POST /__dev/stall?tenant=<scope>&ms=<n>` (only with STOKER_LOCAL_DEV): the tenant's tracker takes no call
 * for `ms` (at most 25 s), as an overloaded or unreachable one would; answers at once. `npm run chaos` stalls
 * one this way to show that records outlast it (the record queue).
 */
devRoutes.post("/stall", async (c) => {
  if (!c.var.config.loopbackOnly)
    throw new StokerError(404, "not_found_error", `No route for ${c.req.method} ${c.req.path}.`);
  const tenant = c.req.query("tenant");
  const ms = Number(c.req.query("ms"));
  if (!tenant || !Number.isFinite(ms) || ms <= 0)
    throw new StokerError(400, "invalid_request_error", "tenant=<id>&ms=<milliseconds>");
  const stub = c.env.TRACKER.get(c.env.TRACKER.idFromName(tenant));
  c.executionCtx.waitUntil(stub.chaosStall(ms).catch(() => false));
  return c.json({ tenant, stalled_ms: Math.min(ms, 25_000) });
});

devRoutes.use(async function devClockOnly(c, next) {
  if (!c.var.config.devClock)
    throw new StokerError(404, "not_found_error", `No route for ${c.req.method} ${c.req.path}.`);
  await next();
});

devRoutes.get("/clock", (c) => c.json({ now_ms: now(), offset_ms: clockOffset() }));

devRoutes.post("/clock", async (c) => {
  const body = (await c.req.json().catch(() => null)) as {
    advance_ms?: unknown;
    freeze?: unknown;
    cron?: unknown;
  } | null;
  // `freeze`: the clock stops and moves only by `advance_ms` (a test comparing to the millisecond).
  if (typeof body?.freeze === "boolean" && body.advance_ms === undefined)
    return c.json({ now_ms: freezeClock(body.freeze), offset_ms: clockOffset() });
  const ms = body?.advance_ms;
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0)
    throw new StokerError(400, "invalid_request_error", "advance_ms must be a non-negative number", {
      param: "advance_ms",
    });
  const at = advanceClock(ms);
  // `cron: false`: the caller sweeps itself, at the times it chooses (the differential test).
  const cron = body?.cron === false ? null : await runCron(c.env, at);
  return c.json({ now_ms: at, offset_ms: clockOffset(), cron });
});

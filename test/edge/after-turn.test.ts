// Work for after this turn of the event loop (src/edge/after-turn.ts): the record, the body kept for the next
// turn and the GPU pool's candidates run once the handler has answered, and a fault in them is logged, never
// the client's.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { expect, it } from "vitest";
import type { LogFields, Logger } from "../../src/core/log.ts";
import { afterThisTurn } from "../../src/edge/after-turn.ts";
import type { AppEnv } from "../../src/edge/context.ts";

it("runs after the handler has answered; a throw is an edge.fault with its op, and the answer stands", async () => {
  const events: string[] = [];
  const warnings: { msg: string; fields?: LogFields }[] = [];
  const log: Logger = {
    debug: () => {},
    info: () => {},
    warn: (msg, fields) => warnings.push({ msg, ...(fields ? { fields } : {}) }),
    error: () => {},
  };
  const app = new Hono<AppEnv>();
  app.post("/", (c) => {
    c.set("log", log);
    afterThisTurn(c, "broken", () => {
      events.push("broken ran");
      throw new TypeError("a bug in the work");
    });
    afterThisTurn(c, "async", async () => {
      events.push("async ran");
      throw new RangeError("a rejection");
    });
    afterThisTurn(c, "fine", () => events.push("fine ran"));
    events.push("answered");
    return c.json({ ok: true });
  });
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request("http://stoker/", { method: "POST" }), env, ctx);
  expect(events).toEqual(["answered"]);
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ ok: true });
  await waitOnExecutionContext(ctx);
  expect(events).toEqual(["answered", "broken ran", "async ran", "fine ran"]);
  expect(warnings).toEqual([
    { msg: "edge.fault", fields: { op: "broken", fault: "TypeError" } },
    { msg: "edge.fault", fields: { op: "async", fault: "RangeError" } },
  ]);
});

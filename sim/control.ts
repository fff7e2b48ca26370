import { type Context, Hono } from "hono";
import type { SimDeps } from "./context.ts";
import { parseFaults } from "./faults.ts";
import { parseJsonObject } from "./json.ts";
import type { Namespace } from "./namespace.ts";

function clockJson(ns: Namespace) {
  const now = ns.now();
  return { ns: ns.name, now_ms: now, now: new Date(now).toISOString(), offset_ms: ns.offsetMs };
}

function bad(c: Context, message: string): Response {
  return c.json({ error: { message } }, 400);
}

/** The control API under `/__sim` (README "Control API"); `?ns=` picks the namespace (default "default"). */
export function controlRoutes(deps: SimDeps): Hono {
  const app = new Hono();
  const nsOf = (c: Context) =>
    deps.namespaces.get(c.req.query("ns") ?? c.req.header("x-sim-namespace") ?? "default");

  app.get("/health", (c) => c.json({ ok: true }));

  app.get("/requests", (c) => {
    const ns = nsOf(c);
    return c.json({ ns: ns.name, dropped: ns.dropped, requests: ns.requests });
  });

  app.get("/clock", (c) => c.json(clockJson(nsOf(c))));
  app.post("/clock", async (c) => {
    const body = parseJsonObject(await c.req.text());
    const s = body?.advance_seconds;
    if (typeof s !== "number" || !Number.isFinite(s) || s < 0) {
      return bad(c, "advance_seconds must be a non-negative number");
    }
    const ns = nsOf(c);
    ns.offsetMs += s * 1000;
    return c.json(clockJson(ns));
  });

  app.post("/reset", (c) => {
    const ns = nsOf(c);
    ns.reset();
    return c.json({ ns: ns.name, reset: true });
  });

  app.get("/faults", (c) => {
    const ns = nsOf(c);
    return c.json({ ns: ns.name, faults: ns.faults });
  });
  app.post("/faults", async (c) => {
    const text = await c.req.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return bad(c, "body must be JSON");
    }
    const faults = parseFaults(body);
    if (typeof faults === "string") return bad(c, faults);
    const ns = nsOf(c);
    ns.faults.push(...faults);
    return c.json({ ns: ns.name, faults: ns.faults });
  });
  app.delete("/faults", (c) => {
    const ns = nsOf(c);
    ns.faults = [];
    return c.json({ ns: ns.name, faults: [] });
  });

  app.get("/stats", (c) => {
    const ns = nsOf(c);
    const stats = ns.stats.toJSON();
    // Storage accrues with time: read it at the namespace's clock.
    const storage = ns.gemini.storageTokenHours(ns.now());
    stats.gemini.storage_token_hours = storage;
    stats.total.storage_token_hours = storage;
    return c.json({ ns: ns.name, ...stats });
  });

  app.get("/cache", (c) => {
    const ns = nsOf(c);
    const now = ns.now();
    return c.json({
      ns: ns.name,
      now_ms: now,
      anthropic: ns.anthropic.list(now),
      openai: { machines: ns.openai.summary(now) },
    });
  });

  return app;
}

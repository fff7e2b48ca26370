import { createRoute, type OpenAPIHono, type z } from "@hono/zod-openapi";
import {
  BUCKETS,
  BustersSchema,
  ErrorSchema,
  PageQuery,
  PrefixesSchema,
  RangeQuery,
  SummarySchema,
  TimeseriesQuery,
  TimeseriesSchema,
} from "../../analytics/schemas.ts";
import {
  iso,
  MAX_BUCKETS,
  page,
  parseRange,
  shapeAgreement,
  shapeBuster,
  shapePrefix,
} from "../../analytics/shape.ts";
import { now } from "../../core/clock.ts";
import { StokerError } from "../../core/errors.ts";
import { trackerFor } from "../../tracker/client.ts";
import type { AppEnv } from "../context.ts";
import { tenantAuth } from "../middleware.ts";

const security = [{ tenantKey: [] }];
const errors = {
  400: { description: "Bad parameters", content: { "application/json": { schema: ErrorSchema } } },
  401: {
    description: "Missing or unknown tenant key",
    content: { "application/json": { schema: ErrorSchema } },
  },
};
const ok = <T extends z.ZodType>(schema: T, description: string) => ({
  200: { description, content: { "application/json": { schema } } },
  ...errors,
});

function range(query: { from?: string; to?: string }) {
  const r = parseRange(query, now());
  if (!r.ok) throw new StokerError(400, "invalid_request_error", r.message, { param: r.param });
  return r.value;
}

const offsetOf = (cursor: string | undefined) => (cursor === undefined ? 0 : Number(cursor));

/** `/v1/analytics/*`: the calling tenant's own figures, read from its tracker (no tenant id in the path). */
export function mountAnalytics(app: OpenAPIHono<AppEnv>): void {
  app.use("/v1/analytics/*", tenantAuth());

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/analytics/summary",
      summary: "Totals over a time range, per upstream and per model",
      security,
      request: { query: RangeQuery },
      responses: ok(SummarySchema, "Figures of the calling tenant"),
    }),
    async (c) => {
      const { from, to } = range(c.req.valid("query"));
      const s = await trackerFor(c.env, c.var.tenant.id).summary(from, to);
      return c.json({ ...s, range: { from: iso(from), to: iso(to) } }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/analytics/timeseries",
      summary: "The summary's figures per time bucket (empty buckets left out)",
      security,
      request: { query: TimeseriesQuery },
      responses: ok(TimeseriesSchema, "Buckets, oldest first"),
    }),
    async (c) => {
      const q = c.req.valid("query");
      const { from, to } = range(q);
      const width = BUCKETS[q.bucket];
      if ((to - from) / width > MAX_BUCKETS)
        throw new StokerError(
          400,
          "invalid_request_error",
          `at most ${MAX_BUCKETS} buckets per answer: narrow the range or use a wider bucket`,
          { param: "bucket" },
        );
      const rows = await trackerFor(c.env, c.var.tenant.id).timeseries(from, to, width);
      return c.json(
        {
          range: { from: iso(from), to: iso(to) },
          bucket: q.bucket,
          buckets: rows.map(({ start, ...f }) => ({ start: iso(start), ...f })),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/analytics/prefixes",
      summary: "Top cached prefixes by tokens read",
      security,
      request: { query: PageQuery },
      responses: ok(PrefixesSchema, "One page of prefixes"),
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const offset = offsetOf(cursor);
      const rows = await trackerFor(c.env, c.var.tenant.id).prefixes(limit + 1, offset);
      const p = page(rows, limit, offset);
      const at = now();
      const models = c.var.config.models;
      return c.json({ prefixes: p.rows.map((r) => shapePrefix(r, models, at)), next_cursor: p.next }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/analytics/busters",
      summary: "Cache-busters: where prompts diverge, how often, and what it cost",
      security,
      request: { query: PageQuery },
      responses: ok(BustersSchema, "Costliest first"),
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const offset = offsetOf(cursor);
      const stub = trackerFor(c.env, c.var.tenant.id);
      const [rows, agreement] = await Promise.all([
        stub.busterGroups(limit + 1, offset),
        stub.busterAgreement(),
      ]);
      const p = page(rows, limit, offset);
      return c.json(
        {
          busters: p.rows.map(shapeBuster),
          next_cursor: p.next,
          provider_agreement: shapeAgreement(agreement),
        },
        200,
      );
    },
  );
}

import { Hono } from "hono";
import { DASHBOARD_ASSETS } from "../../analytics/dashboard/assets.ts";
import type { AppEnv } from "../context.ts";

// Scripts only from this origin (no inline script), data only from this origin's API.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** `GET /dashboard` and its files. Public: the page holds no data; it reads the API with the tenant's key. */
export const dashboardRoutes = new Hono<AppEnv>();

for (const [path, asset] of Object.entries(DASHBOARD_ASSETS)) {
  dashboardRoutes.get(path, (c) => {
    c.header("content-type", asset.type);
    c.header("cache-control", path === "/dashboard" ? "no-cache" : "public, max-age=3600");
    c.header("x-content-type-options", "nosniff");
    if (path === "/dashboard") {
      c.header("content-security-policy", CSP);
      c.header("referrer-policy", "no-referrer");
    }
    return c.body(asset.body);
  });
}

import uplotJs from "uplot/dist/uPlot.iife.min.js";
import uplotCss from "uplot/dist/uPlot.min.css";
import appJs from "./browser/app.js";
import page from "./page.html";

/** The dashboard's files: one page, its script, and uPlot (about 50 KB) — no build step. */
export const DASHBOARD_ASSETS = {
  "/dashboard": { body: page, type: "text/html; charset=utf-8" },
  "/dashboard/app.js": { body: appJs, type: "text/javascript; charset=utf-8" },
  "/dashboard/uplot.js": { body: uplotJs, type: "text/javascript; charset=utf-8" },
  "/dashboard/uplot.css": { body: uplotCss, type: "text/css; charset=utf-8" },
} as const;

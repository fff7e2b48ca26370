import { describe, expect, it } from "vitest";
import { STOKER, workerFetch } from "../support/clients.ts";

describe("GET /dashboard", () => {
  it("serves the page with a strict CSP, and its scripts from the same origin", async () => {
    const page = await workerFetch(`${STOKER}/dashboard`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toMatch(/script-src 'self';/);
    const html = await page.text();
    expect(html).toContain('<script src="/dashboard/app.js">');
    expect(html).not.toMatch(/<script>(?!<\/script>)/);
    const lib = await workerFetch(`${STOKER}/dashboard/uplot.js`);
    expect(lib.headers.get("content-type")).toMatch(/javascript/);
    expect(await lib.text()).toContain("uPlot");
    const app = await workerFetch(`${STOKER}/dashboard/app.js`);
    const js = await app.text();
    expect(js).toContain("/v1/analytics/summary");
    // Spend and savings per provider (Gemini included), from the summary's by_upstream.
    expect(html).toContain('<table id="providers">');
    expect(html).toContain("/gemini");
    expect(js).toContain("providerTable(summary.by_upstream)");
    expect((await workerFetch(`${STOKER}/dashboard/uplot.css`)).status).toBe(200);
  });
});

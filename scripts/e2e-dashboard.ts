// The dashboard in a real browser: Stoker under `wrangler dev` serves real traffic from the simulator (the
// official Anthropic SDK, a conversation that reads the cache and a prompt with a timestamp that busts it),
// then headless Chromium (Debian's, driven by playwright-core) opens /dashboard, enters the key, and the
// figures it shows are compared with the analytics API's. A tenant with no traffic sees the empty state.
//
//   npm run e2e:dashboard            (needs /usr/bin/chromium: apt-get install chromium)
//
// Loopback only, about 15 s. Screenshots: artifacts/dashboard.png and artifacts/dashboard-empty.png.
// Last line: `N passed, M failed`; the exit code is non-zero when anything failed.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { chromium } from "playwright-core";
import { check, ROOT, runMain, scratchDir, sleep, tail } from "./lib/harness.ts";
import { type Sim, startSim } from "./lib/sim.ts";
import { DEV_TENANT_KEY, type Stoker, startStoker } from "./lib/stoker.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const EMPTY_KEY = "sk-stoker-dashboard-empty";
const ARTIFACTS = join(ROOT, "artifacts");
const MODEL = "claude-sonnet-4-6";

let stoker: Stoker | undefined;
let sim: Sim | undefined;

const words = (n: number, seed: string) => Array.from({ length: n }, (_, i) => `${seed}${i % 89}`).join(" ");

/** The same formatting as the page's (browser/app.js). */
const usd = (v: number) => {
  const a = Math.abs(v);
  return `${v < 0 ? "-" : ""}$${a >= 100 ? a.toFixed(0) : a >= 1 ? a.toFixed(2) : a.toFixed(4)}`;
};
const pct = (v: number) => `${(v * 100).toFixed(1)} %`;

async function traffic(url: string): Promise<void> {
  const client = new Anthropic({ baseURL: `${url}/anthropic`, apiKey: DEV_TENANT_KEY, maxRetries: 0 });
  const system = words(3000, "policy");
  const messages: Anthropic.MessageParam[] = [];
  for (let turn = 0; turn < 4; turn++) {
    messages.push({ role: "user", content: `Question ${turn}: ${words(40, `q${turn}`)}` });
    const reply = await client.messages.create({
      model: MODEL,
      max_tokens: 32,
      system,
      messages: [...messages],
    });
    messages.push({ role: "assistant", content: reply.content });
  }
  for (const stamp of ["2026-11-27T21:00:01Z", "2026-11-27T21:00:42Z"]) {
    await client.messages.create({
      model: MODEL,
      max_tokens: 16,
      system: `Current time: ${stamp}\n${words(3000, "rules")}`,
      messages: [{ role: "user", content: "What changed?" }],
    });
  }
}

async function api<T>(url: string, path: string, key: string): Promise<T> {
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${key}` } });
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return (await res.json()) as T;
}

interface Summary {
  requests: number;
  token_hit_rate: number;
  saved_usd: number;
  net_saved_usd: number;
  keepalive: { cost_usd: number };
}

await runMain(
  async () => {
    if (!existsSync(CHROMIUM)) {
      check(`Chromium at ${CHROMIUM}`, false, "install it: apt-get install -y chromium");
      return;
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    sim = await startSim();
    const hash = (k: string) => createHash("sha256").update(k).digest("hex");
    stoker = await startStoker({
      simUrl: sim.url,
      persistTo: scratchDir("stoker-dashboard-"),
      vars: {
        TENANTS: JSON.stringify([
          { id: "dev", key_sha256: hash(DEV_TENANT_KEY) },
          { id: "empty", key_sha256: hash(EMPTY_KEY) },
        ]),
      },
    });
    await traffic(stoker.url);
    // Records land after the responses (waitUntil): wait until the API counts all 6.
    let summary = await api<Summary>(stoker.url, "/v1/analytics/summary", DEV_TENANT_KEY);
    for (let i = 0; i < 50 && summary.requests < 6; i++) {
      await sleep(100);
      summary = await api<Summary>(stoker.url, "/v1/analytics/summary", DEV_TENANT_KEY);
    }
    check("the API counts the 6 requests", summary.requests === 6, `requests ${summary.requests}`);
    const busters = await api<{ busters: unknown[] }>(stoker.url, "/v1/analytics/busters", DEV_TENANT_KEY);
    const prefixes = await api<{ prefixes: unknown[] }>(
      stoker.url,
      "/v1/analytics/prefixes?limit=10",
      DEV_TENANT_KEY,
    );

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 1400 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      const started = Date.now();
      await page.goto(`${stoker.url}/dashboard`);
      check("the page asks for the key first", await page.locator("#login").isVisible());
      await page.fill("#key", DEV_TENANT_KEY);
      await page.click("#login button[type=submit]");
      await page.waitForSelector("body[data-loaded=true]", { timeout: 10_000 });
      const loadedMs = Date.now() - started;
      const kpi = (name: string) => page.locator(`[data-kpi="${name}"]`).textContent();
      check("requests shown = API", (await kpi("requests")) === String(summary.requests));
      check(
        "token hit rate shown = API",
        (await kpi("hit_rate")) === pct(summary.token_hit_rate),
        `${await kpi("hit_rate")}`,
      );
      check("saved shown = API", (await kpi("saved")) === usd(summary.saved_usd), `${await kpi("saved")}`);
      check("net saved shown = API", (await kpi("net_saved")) === usd(summary.net_saved_usd));
      check("keepalive spend shown = API", (await kpi("keepalive_cost")) === usd(summary.keepalive.cost_usd));
      const prefixRows = await page.locator("#prefixes tbody tr").count();
      check(
        "one table row per top prefix",
        prefixRows === prefixes.prefixes.length && prefixRows > 0,
        `${prefixRows}`,
      );
      const busterRows = await page.locator("#busters tbody tr").count();
      check(
        "the cache-buster is listed with its fix",
        busterRows === busters.busters.length && busterRows === 1,
      );
      const excerpt = await page.locator("#busters tbody tr td.excerpt").first().textContent();
      check(
        "its excerpt is redacted",
        !!excerpt?.includes("«date»") && !excerpt.includes("2026-11-27"),
        excerpt ?? "",
      );
      check("both charts rendered", (await page.locator(".uplot canvas").count()) >= 2);
      check("no errors in the page", errors.length === 0, errors.join("; "));
      check("rendered within 3 s of opening", loadedMs < 3000, `${loadedMs} ms`);
      await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });

      const fresh = await browser.newPage({ viewport: { width: 1200, height: 800 } });
      await fresh.goto(`${stoker.url}/dashboard`);
      await fresh.fill("#key", EMPTY_KEY);
      await fresh.click("#login button[type=submit]");
      await fresh.waitForSelector("#empty:not([hidden])", { timeout: 10_000 });
      const text = (await fresh.locator("#empty").textContent()) ?? "";
      check(
        "a tenant with no traffic sees how to start",
        text.includes(`${stoker.url}/anthropic`),
        text.slice(0, 80),
      );
      await fresh.screenshot({ path: join(ARTIFACTS, "dashboard-empty.png"), fullPage: true });

      const wrong = await browser.newPage();
      await wrong.goto(`${stoker.url}/dashboard`);
      await wrong.fill("#key", "sk-stoker-not-a-tenant");
      await wrong.click("#login button[type=submit]");
      await wrong.waitForSelector("#login-error:not(:empty)", { timeout: 10_000 });
      check("a wrong key is refused on the page", await wrong.locator("#login").isVisible());
    } finally {
      await browser.close();
    }
    console.log(
      `screenshots: ${join("artifacts", "dashboard.png")}, ${join("artifacts", "dashboard-empty.png")}`,
    );
  },
  {
    onFailure: () => {
      if (stoker) console.log(`--- wrangler dev output ---\n${tail(stoker.log(), 40)}`);
    },
  },
);

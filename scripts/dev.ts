// `npm start`: runs Stoker locally with wrangler dev on 127.0.0.1:8787. A provider with no key configured
// (environment or .dev.vars) is served by the built-in provider simulator, started here on 127.0.0.1:8788.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { SIM_AWS_CREDENTIALS } from "../sim/bedrock/auth.ts";
import { startSimulator } from "../sim/server.ts";
import { DEV_TENANT_KEY } from "./lib/stoker.ts";

const port = Number(process.env.PORT ?? 8787);
const simPort = Number(process.env.SIM_PORT ?? 8788);

function devVars(): Record<string, string> {
  if (!existsSync(".dev.vars")) return {};
  const vars: Record<string, string> = {};
  for (const line of readFileSync(".dev.vars", "utf8").split("\n")) {
    const m = line.match(/^\s*([A-Z0-9_]+)\s*=\s*"?(.*?)"?\s*$/);
    if (m?.[1] && m[2] !== undefined) vars[m[1]] = m[2];
  }
  return vars;
}

const configured = { ...devVars(), ...process.env };
const simulated = {
  anthropic: !configured.ANTHROPIC_API_KEY && !configured.ANTHROPIC_UPSTREAM_URL,
  openai: !configured.OPENAI_API_KEY && !configured.OPENAI_UPSTREAM_URL,
  gemini: !configured.GEMINI_API_KEY && !configured.GEMINI_UPSTREAM_URL,
  bedrock: !configured.BEDROCK_API_KEY && !configured.AWS_ACCESS_KEY_ID && !configured.BEDROCK_UPSTREAM_URL,
};

const vars: string[] = [];
let sim: Awaited<ReturnType<typeof startSimulator>> | undefined;
if (simulated.anthropic || simulated.openai || simulated.gemini || simulated.bedrock) {
  sim = await startSimulator({ port: simPort, host: "127.0.0.1" });
  if (simulated.anthropic) vars.push(`ANTHROPIC_UPSTREAM_URL:${sim.url}/anthropic`);
  if (simulated.openai) vars.push(`OPENAI_UPSTREAM_URL:${sim.url}/openai`);
  if (simulated.gemini) vars.push(`GEMINI_UPSTREAM_URL:${sim.url}/gemini`);
  if (simulated.bedrock) {
    // The simulated Bedrock checks SigV4 signatures: Stoker signs with the simulator's own account.
    const [keyId, secret] = Object.entries(SIM_AWS_CREDENTIALS)[0] as [string, string];
    vars.push(
      `BEDROCK_UPSTREAM_URL:${sim.url}/bedrock`,
      `AWS_ACCESS_KEY_ID:${keyId}`,
      `AWS_SECRET_ACCESS_KEY:${secret}`,
    );
  }
  vars.push("STOKER_SIMULATOR:1");
}
// Local development: the built-in dev STOKER_SECRET is allowed here only (a deploy without one refuses to serve).
vars.push("STOKER_LOCAL_DEV:1");
for (const name of [
  "ANTHROPIC_UPSTREAM_URL",
  "OPENAI_UPSTREAM_URL",
  "GEMINI_UPSTREAM_URL",
  "BEDROCK_UPSTREAM_URL",
] as const) {
  if (process.env[name]) vars.push(`${name}:${process.env[name]}`);
}
if (!configured.TENANTS) {
  // The dev tenant exists only here, never in wrangler.toml or a deployed config.
  const hash = createHash("sha256").update(DEV_TENANT_KEY).digest("hex");
  vars.push(`TENANTS:${JSON.stringify([{ id: "dev", key_sha256: hash }])}`);
}
// A local admin token so the admin API can be tried at once; a deploy sets its own secret (or none: API off).
const DEV_ADMIN_TOKEN = "stoker-dev-admin-token";
if (process.env.ADMIN_TOKEN) vars.push(`ADMIN_TOKEN:${process.env.ADMIN_TOKEN}`);
else if (!configured.ADMIN_TOKEN) vars.push(`ADMIN_TOKEN:${DEV_ADMIN_TOKEN}`);

const upstreamNote = (name: "anthropic" | "openai") =>
  simulated[name]
    ? `simulator at ${sim?.url}/${name} (no ${name.toUpperCase()}_API_KEY configured)`
    : "real provider";
console.log(
  [
    "",
    `Stoker: http://127.0.0.1:${port}`,
    `  Anthropic: baseURL http://127.0.0.1:${port}/anthropic -> ${upstreamNote("anthropic")}`,
    `  OpenAI:    baseURL http://127.0.0.1:${port}/openai/v1 -> ${upstreamNote("openai")}`,
    configured.TENANTS ? "  Tenants from TENANTS." : `  Dev tenant key: ${DEV_TENANT_KEY}`,
    `  Dashboard: http://127.0.0.1:${port}/dashboard   API: http://127.0.0.1:${port}/v1/openapi.json`,
    configured.ADMIN_TOKEN
      ? "  Admin API: ADMIN_TOKEN from the environment or .dev.vars."
      : `  Admin API: Authorization: Bearer ${DEV_ADMIN_TOKEN} (local only)`,
    `  Cron: curl "http://127.0.0.1:${port}/cdn-cgi/local/scheduled?cron=*+*+*+*+*" (add &time=<epoch ms> to sweep as of that time)`,
    "",
  ].join("\n"),
);

const args = [
  "dev",
  "--ip",
  "127.0.0.1",
  "--port",
  String(port),
  "--test-scheduled",
  ...vars.flatMap((v) => ["--var", v]),
];
const wrangler = spawn("wrangler", args, {
  stdio: "inherit",
  env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
});

const stop = async (code: number) => {
  wrangler.kill("SIGTERM");
  await sim?.close();
  process.exit(code);
};
wrangler.on("exit", (code) => void stop(code ?? 0));
process.on("SIGINT", () => void stop(130));
process.on("SIGTERM", () => void stop(143));

// The README's "caching a conversation sent with no cache_control" figure, under `wrangler dev`: the
// scenario of test/e2e/conversation-caching.test.ts (scripts/lib/conversation.ts: a 10-turn conversation
// with a long system prompt and six tools, no `cache_control` anywhere) through Stoker, and the same
// conversation sent straight to the provider simulator by a client that turns on automatic caching (one
// top-level `cache_control`). Writes bench/report/conversation.md when every check passes.
//
//   npx node scripts/e2e-conversation.ts
//
// Loopback only, about 20 s. Last line: `N passed, M failed`; the exit code is non-zero when anything failed.
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { converse, hitRateOf, inputCostOf, MODEL, promptTokens } from "./lib/conversation.ts";
import { check, runMain, scratchDir, secs, tail } from "./lib/harness.ts";
import { reportTo, summarize } from "./lib/report.ts";
import { bodyOf, simRequests, startSim } from "./lib/sim.ts";
import { DEV_TENANT_KEY, type Stoker, startStoker } from "./lib/stoker.ts";

const TURNS = 10;

let stoker: Stoker | undefined;

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

function printUsage(label: string, usage: Anthropic.Usage[]): void {
  const w = 9;
  console.log(`\n${label}`);
  console.log(["turn", "input", "read", "write", "total"].map((h) => h.padStart(w)).join(""));
  for (const [i, u] of usage.entries()) {
    const cells = [
      i + 1,
      u.input_tokens,
      u.cache_read_input_tokens ?? 0,
      u.cache_creation_input_tokens ?? 0,
      promptTokens(u),
    ];
    console.log(cells.map((x) => String(x).padStart(w)).join(""));
  }
  console.log(
    `token hit rate ${pct(hitRateOf(usage))}, input cost ${inputCostOf(usage).toFixed(0)} base-price tokens`,
  );
}

async function main(): Promise<void> {
  const started = Date.now();
  reportTo({
    file: "conversation.md",
    title: "Caching a conversation sent with no cache_control",
    command: "npx node scripts/e2e-conversation.ts",
    setup: [
      `The scenario of test/e2e/conversation-caching.test.ts (scripts/lib/conversation.ts): a ${TURNS}-turn`,
      `conversation with model ${MODEL}, a ~3,000-word system prompt, six tools and ~120-word user turns, sent`,
      "with no `cache_control` anywhere through Stoker under `wrangler dev` (the dev tenant, a fresh store), and",
      "the same conversation sent straight to the provider simulator by a client that turns on Anthropic's",
      "automatic caching (one top-level `cache_control`): the one-line baseline. Token hit rate = cache-read",
      "tokens / all input tokens; input cost in base-price tokens at 5m prices (write 1.25, read 0.1).",
    ].join(" "),
  });
  const scratch = scratchDir("stoker-e2e-conv-");
  const sim = await startSim();
  stoker = await startStoker({ simUrl: sim.url, persistTo: join(scratch, "persist") });
  check("simulator and Stoker (wrangler dev) are up", true, `${stoker.url}, ${secs(Date.now() - started)}`);

  const run = `conv${started.toString(36)}`;
  const viaStoker = new Anthropic({
    baseURL: `${stoker.url}/anthropic`,
    apiKey: DEV_TENANT_KEY,
    maxRetries: 0,
    defaultHeaders: { "x-sim-namespace": `${run}-stoker` },
  });
  const naive = new Anthropic({ baseURL: `${sim.url}/anthropic`, apiKey: `${run}-naive`, maxRetries: 0 });
  const usage = await converse(viaStoker, TURNS);
  const naiveUsage = await converse(naive, TURNS, { naive: true });

  printUsage("Through Stoker (no cache_control sent by the client):", usage);
  printUsage("Baseline: straight to the simulator with automatic caching:", naiveUsage);
  console.log("");

  const [hit, naiveHit] = [hitRateOf(usage), hitRateOf(naiveUsage)];
  const [cost, naiveCost] = [inputCostOf(usage), inputCostOf(naiveUsage)];
  summarize(
    `Through Stoker: token hit rate **${pct(hit)}**, input cost ${cost.toFixed(0)} base-price tokens; the cache is read from turn ${1 + usage.findIndex((u) => (u.cache_read_input_tokens ?? 0) > 0)} on.`,
  );
  summarize(
    `Baseline client with automatic caching: ${pct(naiveHit)}, ${naiveCost.toFixed(0)} (Stoker's input cost is ${(100 * (cost / naiveCost - 1)).toFixed(1)} % ${cost >= naiveCost ? "more" : "less"}: on turn 1 it leaves the user's message unwritten, since the first-turn prior says a conversation may not go on).`,
  );

  check(
    "through Stoker, every turn from 2 on read the cache",
    usage.slice(1).every((u) => (u.cache_read_input_tokens ?? 0) > 0),
    usage.map((u) => u.cache_read_input_tokens ?? 0).join("/"),
  );
  check(
    "Stoker's input cost is within 2 % of the automatic-caching client's",
    cost <= naiveCost * 1.02,
    `${cost.toFixed(0)} vs ${naiveCost.toFixed(0)}`,
  );
  check(
    "Stoker's hit rate is within 1 point of the automatic-caching client's",
    hit > naiveHit - 0.01,
    `${pct(hit)} vs ${pct(naiveHit)}`,
  );
  const first = (await simRequests(sim.url, `${run}-stoker`))[0];
  check(
    "Stoker added the breakpoints (the client sent none)",
    first !== undefined && JSON.stringify(bodyOf(first)).includes("cache_control"),
  );
  console.log(`\nTook ${secs(Date.now() - started)}.`);
}

await runMain(main, {
  onFailure: () => {
    if (stoker) console.log(`\nwrangler dev log (tail):\n${tail(stoker.log(), 40)}`);
  },
});

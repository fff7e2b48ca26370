// CPU time of the request path inside workerd: canonicalize + hash (analyze), plan, and the forwarded body
// (render), at 2K, 20K, 100K and 200K-token requests. The route has already parsed the body, so JSON.parse
// is not counted. workerd's clock ticks in whole milliseconds, so each sample times a batch of requests
// and reports the mean per request; p50/p99 are over 40 samples after a warm-up.
import { countTokens } from "gpt-tokenizer/encoding/o200k_base";
import { it } from "vitest";
import { analyzeAnthropic, analyzeOpenAIChat, DEFAULT_RULES } from "../../src/canonicalize/index.ts";
import { describePlan, planAnthropic, planOpenAI } from "../../src/plan/index.ts";
import type { PlanContext } from "../../src/plan/types.ts";
import type { Analysis } from "../../src/prefix/types.ts";
import { renderAnthropic, renderOpenAI } from "../../src/upstream/body/index.ts";
import { ENGINE_TITLE } from "./tables.ts";

type Json = Record<string, unknown>;
const SIZES = (process.env.BENCH_SIZES ?? "2000,20000,100000,200000").split(",").map(Number);
const SAMPLES = 40;
const ctx: PlanContext = { nowMs: 1e12, tenant: { allowRetention24h: true }, familyRatePerMin: 3 };

const WORDS =
  "the cache keeps prefixes warm while requests arrive with tools system prompts and long histories of messages".split(
    " ",
  );
function prose(tokens: number, seed: number): string {
  let s = "";
  let i = seed;
  while (s.length < tokens * 4.4) {
    s += `${WORDS[i % WORDS.length]} `;
    i = (i * 7 + 3) % 1009;
    if (i % 17 === 0) s += "\n";
  }
  return s;
}

const tools = Array.from({ length: 10 }, (_, i) => ({
  name: `tool_${i}`,
  description: prose(60, i),
  input_schema: {
    properties: { path: { description: "file path", type: "string" }, limit: { type: "integer" } },
    required: ["path"],
    type: "object",
  },
}));

/** An agent-style conversation: user text, assistant text + tool_use, user tool_result, until `tokens`. */
function anthropicRequest(tokens: number): Json {
  const messages: Json[] = [];
  let budget = tokens - 2600;
  let i = 0;
  while (budget > 0) {
    const size = Math.min(budget, 400 + ((i * 137) % 900));
    messages.push({
      role: "user",
      content:
        i % 3 === 0
          ? prose(size, i)
          : [{ type: "tool_result", tool_use_id: `t${i}`, content: prose(size, i) }],
    });
    messages.push({
      role: "assistant",
      content: [
        { type: "text", text: prose(40, i + 1) },
        { type: "tool_use", id: `t${i + 1}`, name: "tool_1", input: { limit: i, path: `/src/file${i}.ts` } },
      ],
    });
    budget -= size + 70;
    i++;
  }
  messages.push({ role: "user", content: [{ type: "tool_result", tool_use_id: `t${i}`, content: "done" }] });
  return {
    model: "claude-sonnet-4-5",
    max_tokens: 1024,
    tools,
    system: [{ type: "text", text: prose(1800, 99) }],
    messages,
  };
}

function chatRequest(tokens: number): Json {
  const messages: Json[] = [{ role: "system", content: prose(2000, 5) }];
  let budget = tokens - 2000;
  let i = 0;
  while (budget > 0) {
    const size = Math.min(budget, 400 + ((i * 137) % 900));
    messages.push({ role: "user", content: prose(size, i) });
    messages.push({ role: "assistant", content: prose(60, i + 2) });
    budget -= size + 70;
    i++;
  }
  return {
    model: "gpt-5.6-terra",
    messages,
    tools: tools.map((t) => ({
      type: "function",
      function: { name: t.name, description: t.description, parameters: t.input_schema },
    })),
  };
}

function measure(fn: () => void): { p50: number; p99: number } {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 300 || n < 20) {
    fn();
    n++;
  }
  const batch = Math.max(1, Math.ceil((n * 25) / Math.max(performance.now() - t0, 1)));
  const samples: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const start = performance.now();
    for (let k = 0; k < batch; k++) fn();
    samples.push((performance.now() - start) / batch);
  }
  samples.sort((a, b) => a - b);
  return { p50: samples[Math.floor(SAMPLES / 2)] ?? 0, p99: samples[SAMPLES - 1] ?? 0 };
}

const ms = (x: number) => x.toFixed(3);

it("engine CPU time per request", () => {
  const rows: string[] = [
    "| request | body tokens (o200k) | KiB | analyze p50/p99 | plan p50/p99 | render p50/p99 | total p50/p99 | plan |",
    "|---|---|---|---|---|---|---|---|",
  ];
  for (const [name, make] of [
    ["anthropic", anthropicRequest],
    ["openai-chat", chatRequest],
  ] as const) {
    for (const size of SIZES) {
      const body = make(size);
      const raw = JSON.stringify(body);
      const input = { raw, body, salt: "tenant-salt", rules: DEFAULT_RULES };
      const analyze = (): Analysis =>
        name === "anthropic" ? analyzeAnthropic(input) : analyzeOpenAIChat(input);
      const a = analyze();
      const plan = name === "anthropic" ? planAnthropic(a, new Map(), ctx) : planOpenAI(a, new Map(), ctx);
      const render = () => (plan.upstream === "anthropic" ? renderAnthropic(a, plan) : renderOpenAI(a, plan));
      const doPlan = () =>
        name === "anthropic" ? planAnthropic(a, new Map(), ctx) : planOpenAI(a, new Map(), ctx);
      const tA = measure(analyze);
      const tP = measure(doPlan);
      const tR = measure(render);
      const tT = measure(() => {
        const x = analyze();
        const p = name === "anthropic" ? planAnthropic(x, new Map(), ctx) : planOpenAI(x, new Map(), ctx);
        p.upstream === "anthropic" ? renderAnthropic(x, p) : renderOpenAI(x, p);
      });
      const tokens = countTokens(raw);
      rows.push(
        `| ${name} ${size / 1000}K | ${tokens} | ${Math.round(raw.length / 1024)} | ${ms(tA.p50)}/${ms(tA.p99)} | ${ms(tP.p50)}/${ms(tP.p99)} | ${ms(tR.p50)}/${ms(tR.p99)} | **${ms(tT.p50)}/${ms(tT.p99)}** | \`${describePlan(plan)}\` |`,
      );
    }
  }
  console.log(`\n${ENGINE_TITLE}\n${rows.join("\n")}\n`);
});

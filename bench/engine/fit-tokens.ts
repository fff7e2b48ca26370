// Fits the token-estimate weights of src/prefix/tokens.ts to gpt-tokenizer (o200k_base, cl100k_base).
// Run: node_modules/.bin/node bench/engine/fit-tokens.ts   (Node 22 strips the types)
import { readFileSync } from "node:fs";
import { countTokens as cl100k } from "gpt-tokenizer/encoding/cl100k_base";
import { countTokens as o200k } from "gpt-tokenizer/encoding/o200k_base";
import { textFeatures } from "../../src/prefix/tokens.ts";

const files = [
  "node_modules/miniflare/README.md",
  "node_modules/openai/README.md",
  "node_modules/undici/README.md",
  "node_modules/fast-check/README.md",
  "node_modules/hono/package.json",
  "node_modules/@biomejs/biome/README.zh-CN.md",
  "node_modules/@biomejs/biome/README.ja.md",
  "src/economics/models.ts",
  "src/upstream/body/scan.ts",
  "node_modules/hono/dist/hono-base.js",
  "node_modules/typescript/lib/tsc.js",
];
const chunks: string[] = [];
for (const f of files) {
  let text: string;
  try {
    text = readFileSync(f, "utf8").slice(0, 60_000);
  } catch {
    continue;
  }
  for (let i = 0; i + 300 < text.length; i += 1500)
    chunks.push(text.slice(i, i + 300 + ((i / 1500) % 5) * 600));
}

function fitTo(count: (s: string) => number): number[] {
  const X = chunks.map(textFeatures);
  const y = chunks.map(count);
  const k = 8;
  // Projected gradient descent on squared relative error, weights kept non-negative.
  const w = [0.5, 0.1, 0.3, 0.05, 0.2, 0.5, 0.8, 0.5];
  for (let iter = 0; iter < 20000; iter++) {
    const g = new Array(k).fill(0);
    X.forEach((x, i) => {
      const pred = x.reduce((s, v, j) => s + v * (w[j] as number), 0);
      const t = y[i] as number;
      const r = (pred - t) / t;
      for (let j = 0; j < k; j++) g[j] += (2 * r * (x[j] as number)) / t;
    });
    for (let j = 0; j < k; j++) w[j] = Math.max(0, (w[j] as number) - (0.02 * g[j]) / X.length);
  }
  const errs = X.map((x, i) =>
    Math.abs(x.reduce((s, v, j) => s + v * (w[j] as number), 0) / (y[i] as number) - 1),
  ).sort((a, b) => a - b);
  console.log(
    "median |err|",
    errs[Math.floor(errs.length / 2)]?.toFixed(3),
    "p90",
    errs[Math.floor(errs.length * 0.9)]?.toFixed(3),
  );
  return w.map((v) => Math.round(v * 1000) / 1000);
}

console.log(chunks.length, "chunks");
console.log("o200k", JSON.stringify(fitTo(o200k)));
console.log("cl100k", JSON.stringify(fitTo(cl100k)));

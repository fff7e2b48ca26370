/**
 * The import graph between src/ folders, and the dependency rules of scripts/deps-rules.json.
 *
 *   node scripts/deps.ts            print folder -> folder arrows with file-pair counts, cycles, breaches
 *   node scripts/deps.ts --check    the same, exit 1 on a breach of a rule or a cycle (npm run check)
 *
 * The imports are read from the source text: src/ imports by relative path with the `.ts` extension
 * (allowImportingTsExtensions), so a static `import`/`export ... from` or `import("...")` names its file.
 * Type-only imports count: a pure part must not even name an I/O part's types.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/** Parts are the folders under src/ (DESIGN.md); a file directly under src/ is a part of its own. */
type Rules = {
  comment?: string;
  /** `except`: files (from the repository root) the rule does not apply to, with the reason in `why`. */
  forbidden: { name: string; from: string[]; to: string[]; except?: string[]; why?: string }[];
};

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const src = join(root, "src");
const rules = JSON.parse(readFileSync(join(root, "scripts/deps-rules.json"), "utf8")) as Rules;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return files(path);
    return /\.(ts|js)$/.test(e.name) && !e.name.endsWith(".d.ts") ? [path] : [];
  });
}

const IMPORT =
  /(?:^|[\s;])(?:import|export)\s[^;]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/gs;

/** The part a src/ file belongs to: its first folder under src/, or the file itself at the top. */
function part(file: string): string {
  const rel = relative(src, file);
  const first = rel.split("/")[0] ?? rel;
  return rel.includes("/") ? first : rel;
}

/** Every file-to-file import inside src/. */
function fileEdges(): [string, string][] {
  const edges: [string, string][] = [];
  for (const file of files(src)) {
    const text = readFileSync(file, "utf8").replace(/^\s*\/\/.*$/gm, "");
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2];
      if (!spec?.startsWith(".")) continue;
      edges.push([file, resolve(dirname(file), spec)]);
    }
  }
  return edges;
}

/** Strongly connected components of more than one file (Tarjan), each a cycle of imports. */
function cycles(edges: [string, string][]): string[][] {
  const next = new Map<string, string[]>();
  for (const [a, b] of edges) next.set(a, [...(next.get(a) ?? []), b]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  let i = 0;
  const visit = (v: string) => {
    index.set(v, i);
    low.set(v, i++);
    stack.push(v);
    on.add(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w === undefined) break;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.map((f) => relative(root, f)).sort());
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

const edges = fileEdges();
const pairs = new Map<string, number>();
for (const [a, b] of edges) {
  const from = part(a);
  const to = part(b);
  if (from !== to) pairs.set(`${from} -> ${to}`, (pairs.get(`${from} -> ${to}`) ?? 0) + 1);
}

const breaches: string[] = [];
for (const [a, b] of edges) {
  for (const rule of rules.forbidden) {
    const excepted = rule.except?.includes(relative(root, a)) ?? false;
    if (rule.from.includes(part(a)) && rule.to.includes(part(b)) && part(a) !== part(b) && !excepted) {
      breaches.push(`${rule.name}: ${relative(root, a)} -> ${relative(root, b)}`);
    }
  }
}
const loops = cycles(edges);

console.log("src/ folder -> folder (file pairs):");
for (const [arrow, n] of [...pairs].sort(([a], [b]) => a.localeCompare(b))) console.log(`  ${arrow}  ${n}`);
console.log(`cycles: ${loops.length}`);
for (const loop of loops) console.log(`  ${loop.join(" <-> ")}`);
console.log(`rule breaches: ${breaches.length}`);
for (const b of breaches) console.log(`  ${b}`);
if (process.argv.includes("--check") && (breaches.length > 0 || loops.length > 0)) process.exit(1);

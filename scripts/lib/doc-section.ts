// A generated section of a committed doc: the text between `<!-- {name}:begin -->` and `<!-- {name}:end -->`
// is replaced by what a script measured, so the doc quotes the last run of a committed command.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, ROOT } from "./harness.ts";

/** Replaces the `name` section of `doc` (a path under the repository root) with `markdown`, then formats it. */
export function writeDocSection(doc: string, name: string, markdown: string): void {
  const file = join(ROOT, doc);
  const text = readFileSync(file, "utf8");
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`${doc} has no ${begin} … ${end} section`);
  writeFileSync(file, `${text.slice(0, i + begin.length)}\n${markdown}\n${text.slice(j)}`);
  // The repository's formatter aligns markdown tables (npm run check would fail otherwise).
  execFileSync(join(BIN, "biome"), ["format", "--write", file], { cwd: ROOT, stdio: "ignore" });
}

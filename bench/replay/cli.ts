import { createReadStream, statSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import type { PriceTableName } from "../economics/prices.ts";
import { LogReader, type SkippedLine } from "./log.ts";
import { formatText, toJson, whatIf } from "./whatif.ts";

/**
 * `npm run replay -- <file> [--json] [--prices anthropic|openai] [--usd-per-mtok N]`: what each caching
 * policy, Stoker's included, would have cost the traffic in <file> (bench/replay/README.md).
 * Node only: reading the file, the progress bar and the exit code live here; the rest is in log.ts and
 * whatif.ts, which the tests import.
 */

const USAGE = `usage: npm run replay -- <file.jsonl> [--json] [--prices anthropic|openai] [--usd-per-mtok N]

  <file.jsonl>      a Mooncake-format trace, or request bodies with timestamps (bench/replay/README.md)
  --json            print the figures as one JSON object on stdout (and nothing else there)
  --prices NAME     price table: anthropic (read 0.1, 5m write 1.25, 1h write 2) or openai (automatic
                    caching); default: openai for a log of OpenAI bodies only, anthropic otherwise
  --usd-per-mtok N  input price in USD per million tokens (default: claude-sonnet-4-5's or gpt-5's)
`;

/** At most this many bad lines are listed one by one on stderr; the rest are only counted. */
const LIST_SKIPPED = 50;

interface Args {
  file: string;
  json: boolean;
  prices: PriceTableName | null;
  usdPerMTok: number | null;
}

function parseArgs(argv: readonly string[]): Args | string {
  let file: string | null = null;
  let json = false;
  let prices: PriceTableName | null = null;
  let usdPerMTok: number | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): string | null => {
      const eq = a.indexOf("=");
      if (eq >= 0) return a.slice(eq + 1);
      i++;
      return argv[i] ?? null;
    };
    if (a === "--json") json = true;
    else if (a === "--help" || a === "-h") return "";
    else if (a === "--prices" || a.startsWith("--prices=")) {
      const v = value();
      if (v !== "anthropic" && v !== "openai")
        return `--prices takes anthropic or openai, not ${v ?? "nothing"}`;
      prices = v;
    } else if (a === "--usd-per-mtok" || a.startsWith("--usd-per-mtok=")) {
      const v = Number(value());
      if (!Number.isFinite(v) || v <= 0) return "--usd-per-mtok takes a positive number";
      usdPerMTok = v;
    } else if (a.startsWith("-") && a !== "-") return `unknown option ${a}`;
    else if (file === null) file = a;
    else return `one file at a time (got ${file} and ${a})`;
  }
  if (file === null) return "no file given";
  return { file, json, prices, usdPerMTok };
}

/** A one-line progress bar on stderr, redrawn at most every 100 ms, only when stderr is a terminal. */
class Progress {
  private readonly tty = process.stderr.isTTY === true;
  private last = 0;
  private shown = false;

  update(fraction: number, label: string, force = false): void {
    if (!this.tty) return;
    const now = performance.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    const width = 28;
    const f = Math.max(0, Math.min(1, fraction));
    const full = Math.round(f * width);
    const bar = `[${"#".repeat(full)}${".".repeat(width - full)}] ${(100 * f).toFixed(0).padStart(3)} % ${label}`;
    const columns = process.stderr.columns || 80;
    process.stderr.write(`\r${bar.slice(0, columns - 1)}\x1b[K`);
    this.shown = true;
  }

  clear(): void {
    if (this.tty && this.shown) process.stderr.write("\r\x1b[K");
    this.shown = false;
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (typeof args === "string") {
    process.stderr.write(args === "" ? USAGE : `replay: ${args}\n\n${USAGE}`);
    return args === "" ? 0 : 2;
  }
  // `npm run` starts scripts in the package's root; a relative path means the user's own directory.
  const path = resolve(process.env.INIT_CWD ?? process.cwd(), args.file);
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error("not a regular file");
    size = st.size;
  } catch (e) {
    process.stderr.write(`replay: cannot read ${args.file}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  const progress = new Progress();
  const report = (s: SkippedLine, n: number): void => {
    if (n > LIST_SKIPPED) return;
    progress.clear();
    process.stderr.write(`replay: ${args.file}:${s.line}: skipped: ${s.reason}\n`);
    if (n === LIST_SKIPPED) process.stderr.write("replay: (further bad lines are only counted)\n");
  };
  let bad = 0;
  const reader = new LogReader({ onSkip: (s) => report(s, ++bad) });
  const stream = createReadStream(path, { encoding: "utf8" });
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    reader.push(line, lineNo);
    if ((lineNo & 63) === 0) {
      progress.update(
        size > 0 ? stream.bytesRead / size : 0,
        `reading line ${lineNo.toLocaleString("en-US")}`,
      );
    }
  }
  progress.clear();
  const log = reader.finish();
  if (bad > 0) {
    process.stderr.write(
      `replay: skipped ${bad.toLocaleString("en-US")} bad line${bad === 1 ? "" : "s"} of ${lineNo.toLocaleString("en-US")}\n`,
    );
  }
  if (!log) {
    process.stderr.write(`replay: no valid request in ${args.file}\n`);
    return 1;
  }
  const onlyOpenAI = log.format === "bodies" && (log.providers.anthropic ?? 0) === 0;
  const prices: PriceTableName = args.prices ?? (onlyOpenAI ? "openai" : "anthropic");
  const result = await whatIf(log, {
    file: args.file,
    prices,
    ...(args.usdPerMTok !== null ? { usdPerMTok: args.usdPerMTok } : {}),
    onProgress: (done, total, label) =>
      progress.update(done / total, `replaying: ${label} (${Math.min(done + 1, total)}/${total})`, true),
  });
  progress.clear();
  process.stdout.write(args.json ? `${toJson(result)}\n` : formatText(result));
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`replay: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);

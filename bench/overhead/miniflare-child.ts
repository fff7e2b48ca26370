// One Miniflare instance serving one worker until SIGTERM: `node miniflare-child.ts <spec.json>`, started
// by miniflare.ts. The worker's console output (Stoker's JSON log lines) goes to stdout, where the
// benchmark counts faults, as it does in wrangler dev's output.
import { readFileSync } from "node:fs";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare, type V4MiniflareOptions } from "miniflare";
import type { ChildSpec } from "./miniflare.ts";

const spec = JSON.parse(readFileSync(process.argv[2] ?? "", "utf8")) as ChildSpec;
const mf = new Miniflare(
  convertV4MiniflareOptions({
    ...(spec.options as V4MiniflareOptions),
    log: new Log(LogLevel.WARN),
    handleStructuredLogs: ({ message }) => process.stdout.write(`${message}\n`),
  } as V4MiniflareOptions),
);
const url = await mf.ready;
process.stdout.write(`miniflare ready at ${url.href}\n`);

let stopping = false;
for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    void mf.dispose().finally(() => process.exit(0));
  });
}

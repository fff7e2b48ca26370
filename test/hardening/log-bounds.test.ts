import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_LOG_FIELD_CHARS } from "../../src/core/log.ts";
import worker from "../../src/index.ts";
import { namespace } from "../support/clients.ts";
import { TEST_TENANTS } from "../support/tenants.ts";

/** Every console line written while `f` runs. */
async function captureLogs(f: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const saved = { log: console.log, warn: console.warn, error: console.error, info: console.info };
  const keep = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  console.log = keep;
  console.warn = keep;
  console.error = keep;
  console.info = keep;
  try {
    await f();
  } finally {
    Object.assign(console, saved);
  }
  return lines;
}

const debugEnv = { ...env, LOG_LEVEL: "debug" } as Env;

async function send(path: string, headers: Record<string, string>, body: unknown): Promise<number> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`http://stoker.test${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-sim-namespace": namespace(), ...headers },
      body: JSON.stringify(body),
    }),
    debugEnv,
    ctx,
  );
  await res.text();
  await waitOnExecutionContext(ctx);
  return res.status;
}

describe("log lines are bounded", () => {
  it("a 200 KB model name leaves no log line over 2 KiB", async () => {
    const model = `claude-${"m".repeat(200_000)}`;
    const lines = await captureLogs(async () => {
      await send(
        "/anthropic/v1/messages",
        { "x-api-key": TEST_TENANTS.alpha, "anthropic-version": "2023-06-01" },
        { model, max_tokens: 8, messages: [{ role: "user", content: "hi" }] },
      );
      await send(
        "/openai/v1/chat/completions",
        { authorization: `Bearer ${TEST_TENANTS.alpha}` },
        { model: `gpt-${"\u00e9".repeat(100_000)}`, messages: [{ role: "user", content: "hi" }] },
      );
    });
    const done = lines.filter((l) => l.includes('"request.done"'));
    expect(done).toHaveLength(2);
    const longest = Math.max(...lines.map((l) => l.length));
    expect(longest).toBeLessThan(2048);
    const fields = done.map((l) => JSON.parse(l) as { model: string });
    for (const f of fields) expect(f.model.length).toBeLessThanOrEqual(MAX_LOG_FIELD_CHARS + 32);
    expect(fields[0]?.model.startsWith("claude-mmm")).toBe(true);
  });
});

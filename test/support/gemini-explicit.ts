// Gemini explicit caches through Stoker: one document asked about again and again, with Stoker's clock moved
// between the questions (test/e2e/gemini-explicit.test.ts, test/edge/gemini-never-waits.test.ts).
import { expect } from "vitest";
import { gemini, longText, STOKER, simRequests, workerFetch } from "./clients.ts";

// Gemini 3 Pro: its storage ($4.50 per MTok-hour) against its input price ($2) lets an explicit cache pay for
// returns the implicit cache would miss; on 2.5 Flash it never does (decide/gemini-policy.ts, bench/report/gemini.md).
export const MODEL = "gemini-3-pro";
// About 6,200 tokens: above 3 Pro's 4,096-token minimum.
export const DOC = longText(2500, "chapter");
export const MINUTE = 60_000;

/** Moves Stoker's clock (the dev clock route) on by `ms`. */
export async function advance(ms: number): Promise<void> {
  const res = await workerFetch(`${STOKER}/__dev/clock`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ advance_ms: ms }),
  });
  expect(res.status).toBe(200);
}

/** One question about `doc`, the document the conversation opens with. */
export function ask(key: string, ns: string, question: string, doc = DOC) {
  return gemini(ns, { apiKey: key }).models.generateContent({
    model: MODEL,
    contents: [
      { role: "user", parts: [{ text: doc }] },
      { role: "model", parts: [{ text: "I have read the document." }] },
      { role: "user", parts: [{ text: question }] },
    ],
    config: { systemInstruction: "Answer from the document only." },
  });
}

/** Polls `f` until it gives a value. */
export async function until<T>(what: string, f: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never: ${what}`);
}

/** Lets the last request's record reach the tracker (it is sent after the response). */
export const settle = () => new Promise((r) => setTimeout(r, 300));

/** Asks each question in turn; after each, lets its record land and moves Stoker's clock on by `gapMs`. */
export async function askApart(key: string, ns: string, questions: readonly string[], gapMs: number) {
  for (const q of questions) {
    await ask(key, ns, q);
    await settle();
    await advance(gapMs);
  }
}

/** The cache creation (`POST cachedContents`) the simulator received, once it has. */
export function cacheCreation(ns: string) {
  return until("a cache is created", async () =>
    (await simRequests(ns)).find((r) => r.path === "/gemini/v1beta/cachedContents"),
  );
}

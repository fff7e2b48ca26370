import { MAX_ANSWER_TOKENS } from "./bodies.ts";

/** `--name=value` from the command line, or undefined. */
export function arg(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

/**
 * Every `--var=NAME=VALUE` on the command line (or `--against-var=...` with `flag` "against-var"): Worker
 * vars for Stoker (e.g. `--var=SHARED_ANSWERS_WAIT_MS=0`).
 */
export function varArgs(flag = "var"): Record<string, string> {
  const prefix = `--${flag}=`;
  return Object.fromEntries(
    process.argv
      .filter((a) => a.startsWith(prefix))
      .map((a) => {
        const [name, ...value] = a.slice(prefix.length).split("=");
        if (!name || value.length === 0) throw new Error(`${a}: ${prefix}NAME=VALUE`);
        return [name, value.join("=")];
      }),
  );
}

/**
 * `--reply-chars=N`: the length of every answer's text (undefined: the simulator's own reply, about 60
 * characters). At most 4 × MAX_ANSWER_TOKENS: the bodies ask for at most that many tokens, and the simulator,
 * as the API, stops there (4 ASCII characters a token).
 */
export function replyCharsArg(): number | undefined {
  const given = arg("reply-chars");
  if (given === undefined) return undefined;
  const n = Number(given);
  const most = 4 * MAX_ANSWER_TOKENS;
  if (!Number.isInteger(n) || n < 1 || n > most)
    throw new Error(`--reply-chars=${given}: 1 to ${most} (the bodies' max_tokens is ${MAX_ANSWER_TOKENS})`);
  return n;
}

/** `--warmup=K` as a count of requests (`fallback` when not given); anything but a whole number >= 0 is refused. */
export function warmupArg(given: string | undefined, fallback: number): number {
  if (given === undefined) return fallback;
  const k = Number(given);
  if (!Number.isInteger(k) || k < 0) throw new Error(`--warmup=${given}: a whole number of requests`);
  return k;
}

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

/** `--warmup=K` as a count of requests (`fallback` when not given); anything but a whole number >= 0 is refused. */
export function warmupArg(given: string | undefined, fallback: number): number {
  if (given === undefined) return fallback;
  const k = Number(given);
  if (!Number.isInteger(k) || k < 0) throw new Error(`--warmup=${given}: a whole number of requests`);
  return k;
}

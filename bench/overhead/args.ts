/** `--name=value` from the command line, or undefined. */
export function arg(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

/** Every `--var=NAME=VALUE` on the command line: Worker vars for Stoker (e.g. `--var=SHARED_ANSWERS_WAIT_MS=0`). */
export function varArgs(): Record<string, string> {
  return Object.fromEntries(
    process.argv
      .filter((a) => a.startsWith("--var="))
      .map((a) => {
        const [name, ...value] = a.slice(6).split("=");
        if (!name || value.length === 0) throw new Error(`${a}: --var=NAME=VALUE`);
        return [name, value.join("=")];
      }),
  );
}

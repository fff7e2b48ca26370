import type { LogLevel } from "../config.ts";

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/**
 * One JSON object per line (Workers observability indexes the fields). Callers pass counts, ids and
 * names only: never prompt content, never keys.
 */
export function createLogger(requestId: string, level: LogLevel): Logger {
  const emit = (l: LogLevel) => (msg: string, fields?: LogFields) => {
    if (rank[l] < rank[level]) return;
    const line = JSON.stringify({ level: l, msg, request_id: requestId, ...fields });
    if (l === "error") console.error(line);
    else if (l === "warn") console.warn(line);
    else console.log(line);
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

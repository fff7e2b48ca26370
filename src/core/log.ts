import type { LogLevel } from "./config.ts";

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/** Longest string a log field keeps: client-chosen strings (a model name) can be megabytes. */
export const MAX_LOG_FIELD_CHARS = 200;

/** A string cut to MAX_LOG_FIELD_CHARS, saying how much was left off. */
export function boundField(value: string): string {
  return value.length <= MAX_LOG_FIELD_CHARS
    ? value
    : `${value.slice(0, MAX_LOG_FIELD_CHARS)}…[+${value.length - MAX_LOG_FIELD_CHARS} chars]`;
}

function bounded(fields: LogFields | undefined): LogFields {
  const out: LogFields = {};
  if (fields)
    for (const [k, v] of Object.entries(fields))
      out[boundField(k)] = typeof v === "string" ? boundField(v) : v;
  return out;
}

/**
 * One JSON object per line (Workers observability indexes the fields). Callers pass counts, ids and
 * names only: never prompt content, never keys. Every string field is bounded (`boundField`).
 */
export function createLogger(requestId: string, level: LogLevel): Logger {
  const emit = (l: LogLevel) => (msg: string, fields?: LogFields) => {
    if (rank[l] < rank[level]) return;
    const line = JSON.stringify({
      level: l,
      msg: boundField(msg),
      request_id: requestId,
      ...bounded(fields),
    });
    if (l === "error") console.error(line);
    else if (l === "warn") console.warn(line);
    else console.log(line);
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

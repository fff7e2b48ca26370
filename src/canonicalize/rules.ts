/**
 * Canonicalization rules. Each default rule keeps what the model is asked the same and only removes byte
 * differences that carry no meaning; opt-in rules change the bytes the model sees and are off by default.
 *
 * - `schemaKeys` (default on): sorts object keys inside tool `input_schema` / `parameters` and structured-output
 *   schemas. A JSON object is unordered (RFC 8259 §4); clients built on Go maps, Swift dictionaries or
 *   re-serialized Python dicts emit the same schema in different orders and bust the cache.
 * - `argumentKeys` (default on): sorts keys inside `tool_use.input` and function-call `arguments` (re-serialized
 *   compactly). Same reason; Go's encoding/json already sends sorted keys, so the API accepts them.
 * - `toolOrder` (default on): orders tool definitions by name. A tool list is a set (tools are chosen by name);
 *   MCP servers return them in varying order. Skipped when a tool carries the client's own `cache_control`,
 *   which would otherwise move.
 * - `lineEndings` (default on): CRLF -> LF inside tool definitions and system prompts / instructions, which are
 *   prose written by the developer; message content is left alone because a CR can be data there.
 * - `volatileToTail` (opt-in, changes what the model sees): moves lines at the head of the system prompt that
 *   hold a date, time, UUID or request id into a text block appended to the last user message, after every
 *   breakpoint, so that the head stays byte-stable.
 */
export interface CanonicalizeRules {
  schemaKeys: boolean;
  argumentKeys: boolean;
  toolOrder: boolean;
  lineEndings: boolean;
  volatileToTail: boolean;
}

export type RuleName = keyof CanonicalizeRules;

export const DEFAULT_RULES: Readonly<CanonicalizeRules> = {
  schemaKeys: true,
  argumentKeys: true,
  toolOrder: true,
  lineEndings: true,
  volatileToTail: false,
};

export const NO_RULES: Readonly<CanonicalizeRules> = {
  schemaKeys: false,
  argumentKeys: false,
  toolOrder: false,
  lineEndings: false,
  volatileToTail: false,
};

/** Header spellings of each rule (`x-stoker-canonicalize: tool-order=off, volatile-to-tail`). */
const HEADER_NAMES: Readonly<Record<string, RuleName>> = {
  "schema-keys": "schemaKeys",
  "argument-keys": "argumentKeys",
  "tool-order": "toolOrder",
  "line-endings": "lineEndings",
  "volatile-to-tail": "volatileToTail",
};

export interface ParsedRulesHeader {
  /** Apply these over the tenant's rules. */
  override: Partial<CanonicalizeRules>;
  /** Tokens that named no rule, for a warning. */
  unknown: string[];
}

/**
 * Parses an `x-stoker-canonicalize` value: `off` (every rule off), `on`/`default` (the defaults), and
 * comma-separated `name`, `name=on|off`, `no-name`. Later tokens win.
 */
export function parseCanonicalizeHeader(value: string | null | undefined): ParsedRulesHeader {
  const override: Partial<CanonicalizeRules> = {};
  const unknown: string[] = [];
  for (const raw of (value ?? "").split(",")) {
    const token = raw.trim().toLowerCase();
    if (token === "") continue;
    if (token === "off" || token === "none" || token === "false") Object.assign(override, NO_RULES);
    else if (token === "on" || token === "default" || token === "true")
      Object.assign(override, DEFAULT_RULES);
    else {
      const [name = "", setting] = token.split("=", 2).map((s) => s.trim());
      const negated = name.startsWith("no-");
      const rule = HEADER_NAMES[negated ? name.slice(3) : name];
      const on = setting === undefined ? !negated : setting === "on" || setting === "true" || setting === "1";
      const valid = setting === undefined || ["on", "off", "true", "false", "1", "0"].includes(setting);
      if (rule && valid) override[rule] = on;
      else unknown.push(token);
    }
  }
  return { override, unknown };
}

/** The rules in force: defaults, then the tenant's settings, then the request's header. */
export function resolveRules(
  tenant: Partial<CanonicalizeRules> = {},
  request: Partial<CanonicalizeRules> = {},
): CanonicalizeRules {
  return { ...DEFAULT_RULES, ...defined(tenant), ...defined(request) };
}

function defined(p: Partial<CanonicalizeRules>): Partial<CanonicalizeRules> {
  const out: Partial<CanonicalizeRules> = {};
  for (const [k, v] of Object.entries(p)) if (typeof v === "boolean") out[k as RuleName] = v;
  return out;
}

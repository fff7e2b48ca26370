// Generated hostile requests for every route in ROUTES (and for unknown paths): malformed and truncated JSON,
// deep nesting, huge strings and arrays, wrong types in every field, invalid UTF-8 and lone surrogates, more
// than 4 breakpoints and mixed TTL orders, unknown models, absurd numbers, wrong content types, duplicate and
// oversized headers, odd methods and query strings. Pure: a case is data; fuzz.test.ts sends and judges it.
import fc from "fast-check";
import {
  authHeaders,
  baseHeaders,
  type FuzzRoute,
  type Json,
  PATH_IDS,
  providerKeyHeader,
  ROUTES,
} from "../support/routes.ts";

export interface FuzzCase {
  /** The route the case targets (null: an unknown path). */
  route: FuzzRoute | null;
  method: string;
  /** Path and query string. */
  path: string;
  /** In order; a name may repeat (duplicate headers). */
  headers: [string, string][];
  body: Uint8Array | null;
  /** How the caller authenticated: anything but `ok`, `passthrough` and `bearer-odd` must never be served. */
  auth: AuthOp;
  /** What was done to it, e.g. `body:field-replace+header:dup`: for the statistics and failure reports. */
  kinds: string[];
}

export interface CaseContext {
  tenantKey: string;
  adminToken: string;
  /** Simulator namespace: every case carries it, so what reaches the simulator is this run's alone. */
  namespace: string;
}

type Path = (string | number)[];

const encoder = new TextEncoder();

// ---- JSON helpers ----------------------------------------------------------------------------------------

function allPaths(v: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (prefix.length > 10) return out;
  if (Array.isArray(v))
    v.forEach((x, i) => {
      allPaths(x, [...prefix, i], out);
    });
  else if (v !== null && typeof v === "object")
    for (const [k, x] of Object.entries(v)) allPaths(x, [...prefix, k], out);
  return out;
}

function parentOf(
  root: unknown,
  path: Path,
): { parent: Record<string | number, unknown>; key: string | number } {
  let cur = root as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  return { parent: cur, key: path[path.length - 1] as string | number };
}

function setAt(root: Json, path: Path, value: unknown): Json {
  if (path.length === 0) return (value !== null && typeof value === "object" ? value : { value }) as Json;
  const { parent, key } = parentOf(root, path);
  parent[key] = value;
  return root;
}

function deleteAt(root: Json, path: Path): Json {
  if (path.length === 0) return {};
  const { parent, key } = parentOf(root, path);
  if (Array.isArray(parent) && typeof key === "number") parent.splice(key, 1);
  else delete parent[key];
  return root;
}

/** Every object in `v` that looks like a content block or tool (has `type` or `name`). */
function blocks(v: unknown, out: Json[] = []): Json[] {
  if (Array.isArray(v)) for (const x of v) blocks(x, out);
  else if (v !== null && typeof v === "object") {
    const o = v as Json;
    if (typeof o.type === "string" || typeof o.name === "string") out.push(o);
    for (const x of Object.values(o)) blocks(x, out);
  }
  return out;
}

// ---- values ----------------------------------------------------------------------------------------------

/** A value that is wrong somewhere: other JSON types, edge numbers, odd strings, shapes of other fields. */
const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    true,
    false,
    0,
    -1,
    1.5,
    -0,
    1e308,
    -1e308,
    2 ** 53 + 1,
    Number.MAX_SAFE_INTEGER,
    "",
    " ",
    "\u0000",
    "\ud800",
    "\udfff",
    "a\ud83d",
    "\ud83d\ude00",
    "\u202e\u200b",
    "ephemeral",
    "5m",
    "1h",
    [],
    {},
    [null],
    [[]],
    { type: null },
    { type: "ephemeral" },
    { type: "text" },
    { type: "text", text: 5 },
    { type: "text", text: "" },
    { type: "image", source: { type: "base64", media_type: "image/png", data: "!!" } },
    { type: "tool_result", tool_use_id: 5, content: {} },
    { type: "tool_use", id: "x", name: 7, input: "str" },
    { type: "thinking", thinking: "hmm" },
    { role: "system", content: null },
    {
      role: "user",
      content: [{ type: "text", text: "hi", cache_control: { type: "ephemeral", ttl: "1h" } }],
    },
  ),
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const cacheMarker = fc.constantFrom<unknown>(
  { type: "ephemeral" },
  { type: "ephemeral", ttl: "5m" },
  { type: "ephemeral", ttl: "1h" },
  { type: "ephemeral", ttl: "1h" },
  { type: "ephemeral", ttl: "2h" },
  { type: "ephemeral", ttl: 300 },
  { type: "persistent" },
  {},
  null,
  "ephemeral",
);

const ABSURD_NUMBERS = [
  "1e999",
  "-1e999",
  "1e-999",
  "123456789012345678901234567890",
  "-0",
  "0.0000000000000000000001",
  "1E400",
  "9007199254740993",
  "-9007199254740993",
  "4294967296",
  "2147483648",
  "00012",
  "+1",
  "0x10",
  "NaN",
  "Infinity",
  "1.",
  ".5",
];
const NUMBER_FIELDS = [
  "max_tokens",
  "temperature",
  "top_p",
  "top_k",
  "max_completion_tokens",
  "max_output_tokens",
  "n",
  "seed",
];

const BAD_BYTES: number[][] = [
  [0xff],
  [0xfe],
  [0xc0, 0x80],
  [0xc3],
  [0xe2, 0x82],
  [0xed, 0xa0, 0x80], // a UTF-16 surrogate encoded as UTF-8 (WTF-8): invalid
  [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80],
  [0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
];

const SURROGATE_ESCAPES = ["\\ud800", "\\udc00", "\\udc00\\ud800", "\\ud83d", "x\\udfffy", "\\ud800\\u0000"];

// ---- body mutations --------------------------------------------------------------------------------------

type BodyOp =
  | { kind: "valid" }
  | { kind: "field-replace"; picks: { at: number; value: unknown }[] }
  | { kind: "field-delete"; at: number }
  | { kind: "field-add"; at: number; key: string; value: unknown }
  | { kind: "breakpoints"; turns: number; p: number; markers: unknown[]; top: unknown }
  | { kind: "unknown-model"; model: string }
  | { kind: "absurd-number"; field: string; text: string }
  | { kind: "thinking-budget"; text: string }
  | { kind: "deep"; at: number; depth: number; array: boolean }
  | { kind: "huge-string"; at: number; size: number }
  | { kind: "huge-array"; copies: number; what: "messages" | "blocks" | "tools" }
  | { kind: "text-truncate"; at: number }
  | { kind: "text-insert"; at: number; ch: string }
  | { kind: "text-delete"; at: number }
  | { kind: "text-trailing"; tail: string }
  | { kind: "text-dup-key"; key: string; value: string }
  | { kind: "lone-surrogate"; nth: number; escape: string }
  | { kind: "invalid-utf8"; at: number; bytes: number[] }
  | { kind: "raw"; text: string }
  | { kind: "raw-bytes"; bytes: Uint8Array };

const bodyOp: fc.Arbitrary<BodyOp> = fc.oneof(
  { weight: 10, arbitrary: fc.constant({ kind: "valid" as const }) },
  {
    weight: 24,
    arbitrary: fc
      .array(fc.record({ at: fc.nat(), value: nastyValue }), { minLength: 1, maxLength: 3 })
      .map((picks) => ({ kind: "field-replace" as const, picks })),
  },
  { weight: 5, arbitrary: fc.nat().map((at) => ({ kind: "field-delete" as const, at })) },
  {
    weight: 4,
    arbitrary: fc
      .record({
        at: fc.nat(),
        key: fc.constantFrom("cache_control", "type", "role", "__proto__", "constructor", "stream", "x"),
        value: nastyValue,
      })
      .map((r) => ({ kind: "field-add" as const, ...r })),
  },
  {
    weight: 10,
    arbitrary: fc
      .record({
        turns: fc.integer({ min: 0, max: 12 }),
        p: fc.double({ min: 0.2, max: 1, noNaN: true }),
        markers: fc.array(cacheMarker, { minLength: 1, maxLength: 40 }),
        top: fc.option(cacheMarker, { freq: 3 }),
      })
      .map((r) => ({ kind: "breakpoints" as const, ...r })),
  },
  {
    weight: 5,
    arbitrary: fc
      .oneof(
        fc.constantFrom(
          "claude-9-opus",
          "gpt-99",
          "gpt-5.5",
          "o1",
          "claude-3-haiku-20240307",
          "x".repeat(300),
          "../../etc/passwd",
          "claude-sonnet-4-6\u0000",
          "\ud800",
          " ",
        ),
        fc.string({ unit: "binary", minLength: 1, maxLength: 60 }),
      )
      .map((model) => ({ kind: "unknown-model" as const, model })),
  },
  {
    weight: 6,
    arbitrary: fc
      .record({ field: fc.constantFrom(...NUMBER_FIELDS), text: fc.constantFrom(...ABSURD_NUMBERS) })
      .map((r) => ({ kind: "absurd-number" as const, ...r })),
  },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(...ABSURD_NUMBERS, "0", "1", "1024", "-5")
      .map((text) => ({ kind: "thinking-budget" as const, text })),
  },
  {
    weight: 4,
    arbitrary: fc
      .record({
        at: fc.nat(),
        depth: fc.constantFrom(64, 512, 5_000, 50_000, 500_000),
        array: fc.boolean(),
      })
      .map((r) => ({ kind: "deep" as const, ...r })),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({ at: fc.nat(), size: fc.constantFrom(100_000, 1_000_000, 3_000_000, 4_300_000) })
      .map((r) => ({ kind: "huge-string" as const, ...r })),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({
        copies: fc.constantFrom(100, 300, 600, 3_000, 30_000),
        what: fc.constantFrom("messages" as const, "blocks" as const, "tools" as const),
      })
      .map((r) => ({ kind: "huge-array" as const, ...r })),
  },
  { weight: 6, arbitrary: fc.nat().map((at) => ({ kind: "text-truncate" as const, at })) },
  {
    weight: 3,
    arbitrary: fc
      .record({
        at: fc.nat(),
        ch: fc.constantFrom("{", "}", "[", "]", '"', ",", ":", "\\", "\u0000", "x", "\n"),
      })
      .map((r) => ({ kind: "text-insert" as const, ...r })),
  },
  { weight: 2, arbitrary: fc.nat().map((at) => ({ kind: "text-delete" as const, at })) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom("x", "{}", "]", "\n", " \t", "\u0000", "null", '{"model":"x"}')
      .map((tail) => ({ kind: "text-trailing" as const, tail })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        key: fc.constantFrom("model", "stream", "messages", "max_tokens", "input"),
        value: fc.constantFrom('"claude-x"', "true", "false", "[]", "null", "1", '"gpt-x"'),
      })
      .map((r) => ({ kind: "text-dup-key" as const, ...r })),
  },
  {
    weight: 5,
    arbitrary: fc
      .record({ nth: fc.nat(), escape: fc.constantFrom(...SURROGATE_ESCAPES) })
      .map((r) => ({ kind: "lone-surrogate" as const, ...r })),
  },
  {
    weight: 5,
    arbitrary: fc
      .record({ at: fc.nat(), bytes: fc.constantFrom(...BAD_BYTES) })
      .map((r) => ({ kind: "invalid-utf8" as const, ...r })),
  },
  {
    weight: 3,
    arbitrary: fc
      .oneof(
        fc.constantFrom("", "null", "[]", '"str"', "1", "{}", "{", "}", "\ufeff{}", "[{}]", "true"),
        fc.string({ unit: "binary", maxLength: 200 }),
        fc.json({ maxDepth: 3 }),
      )
      .map((text) => ({ kind: "raw" as const, text })),
  },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => ({ kind: "raw-bytes" as const, bytes })),
  },
);

function deepValue(depth: number, array: boolean): string {
  return array
    ? `${"[".repeat(depth)}1${"]".repeat(depth)}`
    : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
}

/** Inserts `ins` into `s` at `at` (mod length + 1). */
const spliceText = (s: string, at: number, ins: string, del = 0) => {
  const i = at % (s.length + 1);
  return s.slice(0, i) + ins + s.slice(i + del);
};

/** Applies a body operation to the route's sample; returns the bytes sent. */
function applyBodyOp(sample: Json, op: BodyOp): Uint8Array {
  let body = structuredClone(sample);
  let text: string | null = null;
  switch (op.kind) {
    case "valid":
      break;
    case "field-replace":
      for (const { at, value } of op.picks) {
        const paths = allPaths(body);
        body = setAt(body, paths[at % paths.length] as Path, structuredClone(value));
      }
      break;
    case "field-delete": {
      const paths = allPaths(body);
      body = deleteAt(body, paths[op.at % paths.length] as Path);
      break;
    }
    case "field-add": {
      const objects = allPaths(body).filter((p) => {
        let cur: unknown = body;
        for (const k of p) cur = (cur as Record<string | number, unknown>)[k];
        return cur !== null && typeof cur === "object" && !Array.isArray(cur);
      });
      const target = objects[op.at % objects.length] as Path;
      let cur: unknown = body;
      for (const k of target) cur = (cur as Record<string | number, unknown>)[k];
      // JSON.parse makes "__proto__" an own key; a literal assignment would not.
      Object.defineProperty(cur, op.key, {
        value: op.value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      break;
    }
    case "breakpoints": {
      const messages = body.messages ?? body.input;
      if (Array.isArray(messages)) {
        const extra = [];
        for (let t = 0; t < op.turns; t++) {
          extra.push(
            { role: "assistant", content: [{ type: "text", text: `reply ${t}` }] },
            { role: "user", content: [{ type: "text", text: `more ${t}` }] },
          );
        }
        messages.splice(messages.length - 1, 0, ...extra);
      }
      let i = 0;
      for (const b of blocks(body)) {
        if ((i * 7919) % 100 < op.p * 100) b.cache_control = op.markers[i % op.markers.length];
        i++;
      }
      if (op.top !== null) body.cache_control = op.top;
      break;
    }
    case "unknown-model":
      body.model = op.model;
      break;
    case "absurd-number":
      body[op.field] = "__ABSURD__";
      text = JSON.stringify(body).replace('"__ABSURD__"', op.text);
      break;
    case "thinking-budget":
      body.thinking = { type: "enabled", budget_tokens: "__ABSURD__" };
      text = JSON.stringify(body).replace('"__ABSURD__"', op.text);
      break;
    case "deep": {
      const paths = allPaths(body);
      body = setAt(body, paths[op.at % paths.length] as Path, "__DEEP__");
      text = JSON.stringify(body).replace('"__DEEP__"', deepValue(op.depth, op.array));
      break;
    }
    case "huge-string": {
      const strings = allPaths(body).filter((p) => {
        let cur: unknown = body;
        for (const k of p) cur = (cur as Record<string | number, unknown>)[k];
        return typeof cur === "string";
      });
      const huge = "\u00e9x".repeat(op.size / 3);
      if (strings.length === 0) body.padding = huge;
      else body = setAt(body, strings[op.at % strings.length] as Path, huge);
      break;
    }
    case "huge-array": {
      const messages = (body.messages ?? body.input) as unknown[] | undefined;
      if (op.what === "messages" && Array.isArray(messages)) {
        const pair = messages.slice(0, 2);
        const copies = [];
        for (let c = 0; c < op.copies; c++) copies.push(...structuredClone(pair));
        messages.splice(0, 0, ...copies);
      } else if (op.what === "tools" && Array.isArray(body.tools)) {
        const t = body.tools[0];
        body.tools = Array.from({ length: op.copies }, (_, i) => {
          const c = structuredClone(t) as Json;
          if (typeof c.name === "string") c.name = `tool_${i}`;
          if (c.function && typeof c.function === "object") (c.function as Json).name = `tool_${i}`;
          return c;
        });
      } else if (Array.isArray(messages)) {
        const last = messages[messages.length - 1] as Json;
        last.content = Array.from({ length: op.copies }, (_, i) => ({
          type: body.input ? "input_text" : "text",
          text: `block ${i}`,
        }));
      }
      break;
    }
    case "text-truncate": {
      const s = JSON.stringify(body);
      text = s.slice(0, op.at % s.length);
      break;
    }
    case "text-insert":
      text = spliceText(JSON.stringify(body), op.at, op.ch);
      break;
    case "text-delete":
      text = spliceText(JSON.stringify(body), op.at, "", 1);
      break;
    case "text-trailing":
      text = JSON.stringify(body) + op.tail;
      break;
    case "text-dup-key":
      text = `{"${op.key}":${op.value},${JSON.stringify(body).slice(1)}`;
      break;
    case "lone-surrogate": {
      // Replace the content of the nth string value with escaped lone surrogates (valid JSON, invalid UTF-16).
      const s = JSON.stringify(body);
      const strings = [...s.matchAll(/:"([^"\\]*)"/g)];
      const m = strings[op.nth % Math.max(1, strings.length)];
      text =
        m?.index === undefined
          ? s
          : `${s.slice(0, m.index)}:"${op.escape}${m[1]}"${s.slice(m.index + m[0].length)}`;
      break;
    }
    case "invalid-utf8": {
      const bytes = encoder.encode(JSON.stringify(body));
      const i = op.at % (bytes.length + 1);
      const out = new Uint8Array(bytes.length + op.bytes.length);
      out.set(bytes.subarray(0, i), 0);
      out.set(op.bytes, i);
      out.set(bytes.subarray(i), i + op.bytes.length);
      return out;
    }
    case "raw":
      text = op.text;
      break;
    case "raw-bytes":
      return op.bytes;
  }
  return encoder.encode(text ?? JSON.stringify(body));
}

// ---- headers ---------------------------------------------------------------------------------------------

const CONTENT_TYPES = [
  null,
  "",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/jsonp",
  "application/json, text/plain",
  "APPLICATION/JSON",
  "application/json; charset=utf-8",
  "application/json;;;",
  " application/json ",
  "application/json; charset=latin1",
  "application/vnd.api+json",
  "text/event-stream",
];

export type AuthOp =
  | "ok"
  | "missing"
  | "empty"
  | "unknown"
  | "duplicate"
  | "conflicting"
  | "passthrough"
  | "oversized"
  | "bearer-odd";

type HeaderOp =
  | { kind: "dup"; name: string; values: string[] }
  | { kind: "oversized"; name: string; size: number }
  | { kind: "many"; count: number }
  | { kind: "canonicalize"; value: string }
  | { kind: "hop"; name: string; value: string }
  | { kind: "content-length"; value: string };

const headerOp: fc.Arbitrary<HeaderOp> = fc.oneof(
  fc
    .record({
      name: fc.constantFrom(
        "anthropic-version",
        "anthropic-beta",
        "openai-organization",
        "idempotency-key",
        "accept",
      ),
      values: fc.array(
        fc.constantFrom("2023-06-01", "prompt-caching-2024-07-31", "x", "", "org-1", "text/event-stream"),
        {
          minLength: 2,
          maxLength: 4,
        },
      ),
    })
    .map((r) => ({ kind: "dup" as const, ...r })),
  fc
    .record({
      name: fc.constantFrom(
        "x-fuzz-big",
        "anthropic-beta",
        "user-agent",
        "x-stoker-canonicalize",
        "openai-project",
      ),
      size: fc.constantFrom(8_192, 65_536, 262_144),
    })
    .map((r) => ({ kind: "oversized" as const, ...r })),
  fc.integer({ min: 90, max: 250 }).map((count) => ({ kind: "many" as const, count })),
  fc
    .constantFrom(
      "off",
      "tool-order=off",
      "volatile-to-tail",
      "no-line-endings",
      "garbage,,,=",
      "on, off",
      "=,=",
      "x".repeat(2000),
    )
    .map((value) => ({ kind: "canonicalize" as const, value })),
  fc
    .record({
      name: fc.constantFrom(
        "connection",
        "te",
        "upgrade",
        "x-forwarded-for",
        "cookie",
        "cf-connecting-ip",
        "accept-encoding",
        "forwarded",
      ),
      value: fc.constantFrom("close", "trailers", "websocket", "1.2.3.4", "a=b", "gzip, br", "for=1.2.3.4"),
    })
    .map((r) => ({ kind: "hop" as const, ...r })),
  fc
    .constantFrom("0", "5", "99999999999", "-1", "abc", "1, 2")
    .map((value) => ({ kind: "content-length" as const, value })),
);

// ---- cases -----------------------------------------------------------------------------------------------

const ODD_METHODS = ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "POST"];

const unknownPath = fc.oneof(
  fc.constantFrom(
    "/",
    "/anthropic",
    "/anthropic/",
    "/anthropic/v1/messages/",
    "/anthropic/v1/messages/batches",
    "/anthropic/v1/models",
    "/anthropic/v2/messages",
    "/ANTHROPIC/v1/messages",
    "/openai/v1/chat/completions/",
    "/openai/v1/embeddings",
    "/openai/v1/responses/resp_123",
    "/openai/v1/responses/resp_123/cancel",
    "/v1/messages",
    "/v1/analytics",
    "/v1/analytics/summary/",
    "/v1/admin",
    "/v1/admin/tenants/alpha/nothing",
    "/gpu/none/v1/chat/completions",
    "/gemini/v1beta/models/gemini-2.5-flash",
    "/gemini/v1beta/models/gemini-2.5-flash:embedContent",
    "/gemini/v1beta/cachedContents",
    "/gemini/v2/models/gemini-2.5-flash:generateContent",
    "/healthz/",
    "/__sim/stats",
    "/cdn-cgi/local/scheduled",
    "//anthropic/v1/messages",
    "/anthropic/v1/%2e%2e/messages",
    "/%00",
    "/anthropic/v1/messages%00",
    `/${"a".repeat(5000)}`,
  ),
  fc
    .tuple(
      fc.constantFrom(
        "",
        "/anthropic",
        "/openai",
        "/openai/v1",
        "/anthropic/v1",
        "/gpu/p",
        "/v1",
        "/gemini/v1beta",
      ),
      fc.array(fc.webSegment(), { minLength: 1, maxLength: 4 }),
    )
    .map(([prefix, segs]) => `${prefix}/${segs.join("/")}`),
);

const query = fc.oneof(
  { weight: 12, arbitrary: fc.constant("") },
  { weight: 2, arbitrary: fc.constant("?beta=true") },
  { weight: 1, arbitrary: fc.constantFrom(600, 5_000).map((n) => `?beta=true&pad=${"q".repeat(n)}`) },
  { weight: 1, arbitrary: fc.constantFrom("?%ff%fe=%00", "?a=1&a=2", "?=", "??", "?x=%zz", "?\u00e9=1") },
);

/** How a route's own query parameters are spoiled (values, duplicates, unknown keys), or left alone. */
const queryOp = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: "keep" as const }) },
  {
    weight: 4,
    arbitrary: fc
      .record({
        at: fc.nat(),
        value: fc.oneof(
          fc.constantFrom(
            "",
            "0",
            "-1",
            "1e999",
            "9007199254740993",
            "201",
            "abc",
            "2026-13-45T99:99:99Z",
            "-62135596800001",
            "8640000000000001",
            "99999999999999999999",
            "1h ",
            "5m,1d",
            "%00",
            "\u0000",
            "x".repeat(5000),
            "0x10",
            "NaN",
          ),
          fc.string({ unit: "binary", maxLength: 30 }),
        ),
      })
      .map((r) => ({ kind: "value" as const, ...r })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "duplicate" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "unknown" as const }) },
);

function routeQuery(sample: Record<string, string>, op: QueryOp): string {
  const params = new URLSearchParams(sample);
  const keys = Object.keys(sample);
  if (op.kind === "value" && keys.length > 0) params.set(keys[op.at % keys.length] as string, op.value);
  if (op.kind === "duplicate") for (const k of keys) params.append(k, "1");
  if (op.kind === "unknown") params.set("tenant", "beta");
  const q = params.toString();
  return q ? `?${q}` : "";
}

type QueryOp =
  | { kind: "keep" }
  | { kind: "value"; at: number; value: string }
  | { kind: "duplicate" }
  | { kind: "unknown" };

export function caseArbitrary(ctx: CaseContext): fc.Arbitrary<FuzzCase> {
  const routeCase = fc
    .record({
      // Proxied routes take the richest bodies: they get most of the cases.
      route: fc.oneof(
        ...ROUTES.map((route) => ({ weight: route.proxied ? 6 : 1, arbitrary: fc.constant(route) })),
      ),
      n: fc.integer({ min: 0, max: 20 }),
      stream: fc.boolean(),
      body: bodyOp,
      method: fc.oneof(
        { weight: 15, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.constantFrom(...ODD_METHODS) },
      ),
      contentType: fc.oneof(
        { weight: 12, arbitrary: fc.constant("application/json") },
        { weight: 2, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
      ),
      auth: fc.oneof(
        { weight: 14, arbitrary: fc.constant<AuthOp>("ok") },
        {
          weight: 4,
          arbitrary: fc.constantFrom<AuthOp>(
            "missing",
            "empty",
            "unknown",
            "duplicate",
            "conflicting",
            "passthrough",
            "oversized",
            "bearer-odd",
          ),
        },
      ),
      extra: fc.oneof(
        { weight: 6, arbitrary: fc.constant<HeaderOp[]>([]) },
        { weight: 2, arbitrary: fc.array(headerOp, { minLength: 1, maxLength: 3 }) },
      ),
      query,
      queryOp,
      id: fc.oneof(fc.constantFrom(...PATH_IDS), fc.webSegment()),
      salt: fc.nat(),
    })
    .map((r): FuzzCase => {
      const kinds: string[] = [`body:${r.body.kind}`];
      const route = r.route;
      const method = r.method ?? route.method;
      if (r.method && r.method !== route.method) kinds.push(`method:${r.method}`);
      const headers: [string, string][] = [];
      for (const [k, v] of Object.entries(baseHeaders(route))) {
        if (k === "content-type") continue;
        headers.push([k, v]);
      }
      if (r.contentType !== null) headers.push(["content-type", r.contentType]);
      if (r.contentType !== "application/json")
        kinds.push(`ctype:${r.contentType === null ? "none" : "odd"}`);
      headers.push(["x-sim-namespace", ctx.namespace]);
      addAuth(headers, route, ctx, r.auth, r.salt);
      if (r.auth !== "ok") kinds.push(`auth:${r.auth}`);
      for (const h of r.extra) {
        addHeader(headers, h);
        kinds.push(`header:${h.kind}`);
      }
      const query = route.query ? routeQuery(route.query(), r.queryOp as QueryOp) : r.query;
      if (route.query ? r.queryOp.kind !== "keep" : r.query) kinds.push("query");
      const bodyless = method === "GET" || method === "HEAD";
      const body = bodyless || !route.sample ? null : applyBodyOp(route.sample(r.n, r.stream), r.body);
      if (r.stream && route.proxied) kinds.push("stream");
      const path = route.path.replace("{id}", encodeURIComponent(r.id));
      return { route, method, path: path + query, headers, body, kinds, auth: r.auth };
    });

  const unknownCase = fc
    .record({ path: unknownPath, method: fc.constantFrom(...ODD_METHODS), query })
    .map(({ path, method, query: q }): FuzzCase => {
      const headers: [string, string][] = [
        ["content-type", "application/json"],
        ["x-api-key", ctx.tenantKey],
        ["authorization", `Bearer ${ctx.tenantKey}`],
        ["x-sim-namespace", ctx.namespace],
      ];
      const bodyless = method === "GET" || method === "HEAD";
      const body = bodyless
        ? null
        : encoder.encode(JSON.stringify({ model: "claude-sonnet-4-6", messages: [] }));
      return { route: null, method, path: path + q, headers, body, kinds: ["path:unknown"], auth: "ok" };
    });

  return fc.oneof({ weight: 12, arbitrary: routeCase }, { weight: 1, arbitrary: unknownCase });
}

function addAuth(
  headers: [string, string][],
  route: FuzzRoute,
  ctx: CaseContext,
  op: AuthOp,
  salt: number,
): void {
  if (route.auth === "none") return;
  const key = ctx.tenantKey;
  const ok = Object.entries(authHeaders(route, key, ctx.adminToken))[0] as [string, string];
  switch (op) {
    case "ok":
      headers.push(ok);
      break;
    case "missing":
      break;
    case "empty":
      headers.push([ok[0], ""]);
      break;
    case "unknown":
      headers.push([
        ok[0],
        ok[0] === "authorization" ? `Bearer sk-stoker-nobody-${salt}` : `sk-stoker-nobody-${salt}`,
      ]);
      break;
    case "duplicate":
      headers.push(ok, ok);
      break;
    case "conflicting":
      // On the admin API: a tenant key where the admin token belongs.
      if (route.auth === "admin") headers.push(["authorization", `Bearer ${key}`]);
      else headers.push(["x-api-key", `sk-stoker-nobody-${salt}`], ["authorization", `Bearer ${key}`]);
      break;
    case "passthrough":
      headers.push(["x-stoker-key", route.auth === "admin" ? ctx.adminToken : key]);
      headers.push(
        providerKeyHeader(
          route,
          route.shape === "anthropic" ? `sk-ant-fuzz-provider-${salt}` : `sk-fuzz-provider-${salt}`,
        ),
      );
      break;
    case "oversized":
      headers.push([ok[0], `${ok[1]}${"k".repeat(65_536)}`]);
      break;
    case "bearer-odd": {
      const secret = route.auth === "admin" ? ctx.adminToken : key;
      headers.push([
        "authorization",
        ["Bearer", `bearer   ${secret}`, `Basic ${secret}`, `Bearer ${secret} extra`][salt % 4] as string,
      ]);
      break;
    }
  }
}

function addHeader(headers: [string, string][], op: HeaderOp): void {
  switch (op.kind) {
    case "dup":
      for (const v of op.values) headers.push([op.name, v]);
      break;
    case "oversized":
      headers.push([op.name, "v".repeat(op.size)]);
      break;
    case "many":
      for (let i = 0; i < op.count; i++) headers.push([`x-fuzz-h${i}`, `v${i}`]);
      break;
    case "canonicalize":
      headers.push(["x-stoker-canonicalize", op.value]);
      break;
    case "hop":
      headers.push([op.name, op.value]);
      break;
    case "content-length":
      headers.push(["content-length", op.value]);
      break;
  }
}

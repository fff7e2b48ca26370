import fc from "fast-check";

type Json = Record<string, unknown>;

// A 1x1 PNG: images in generated requests carry real headers.
export const PNG_1X1 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

const word = fc.constantFrom("alpha", "beta", "gamma", "delta", "z", "a_b", "Key", "é", "数据", "x1");
const text = fc
  .array(
    fc.constantFrom(
      "Hello",
      "world",
      "\r\n",
      "\n",
      "date 2026-01-05",
      '{"q":1}',
      "naïve",
      "数据",
      " ",
      '"quoted"',
    ),
    {
      maxLength: 12,
    },
  )
  .map((parts) => parts.join(" "));
const longText = fc
  .integer({ min: 0, max: 3 })
  .chain((n) => text.map((t) => `${t} ${"lorem ipsum dolor sit amet ".repeat(n * 150)}`));

/** A JSON object with keys in random order (as Go maps or re-serialized dicts send them). */
export const jsonObject: fc.Arbitrary<Json> = fc.letrec<{ obj: Json; val: unknown }>((tie) => ({
  obj: fc.dictionary(word, tie("val"), { maxKeys: 5 }),
  val: fc.oneof(
    { depthSize: "small" },
    fc.integer(),
    fc.boolean(),
    text,
    fc.constant(null),
    tie("obj"),
    fc.array(fc.oneof(fc.integer(), text), { maxLength: 3 }),
  ),
})).obj;

const ttl = fc.constantFrom(undefined, "5m", "1h");
const marker = fc.option(
  ttl.map((t) => (t ? { type: "ephemeral", ttl: t } : { type: "ephemeral" })),
  { freq: 6 },
);

function withMarker<T extends Json>(block: T, m: Json | null): T {
  return m ? { ...block, cache_control: m } : block;
}

const tool = fc
  .record({ name: word, description: text, schema: jsonObject, m: marker })
  .map(({ name, description, schema, m }) =>
    withMarker({ name, description, input_schema: { type: "object", properties: schema } }, m),
  );

const userBlock: fc.Arbitrary<Json> = fc.oneof(
  fc.record({ t: longText, m: marker }).map(({ t, m }) => withMarker({ type: "text", text: t }, m)),
  fc
    .record({ m: marker })
    .map(({ m }) =>
      withMarker({ type: "image", source: { type: "base64", media_type: "image/png", data: PNG_1X1 } }, m),
    ),
  fc
    .record({ t: text, m: marker })
    .map(({ t, m }) => withMarker({ type: "tool_result", tool_use_id: "toolu_1", content: t }, m)),
  fc.constant({ type: "text", text: "" }),
);

const assistantBlock: fc.Arbitrary<Json> = fc.oneof(
  fc.record({ t: longText, m: marker }).map(({ t, m }) => withMarker({ type: "text", text: t }, m)),
  fc
    .record({ input: jsonObject, m: marker })
    .map(({ input, m }) => withMarker({ type: "tool_use", id: "toolu_1", name: "alpha", input }, m)),
  fc.constant({ type: "thinking", thinking: "hmm", signature: "sig" }),
);

const message = (role: "user" | "assistant") =>
  fc.oneof(
    (role === "user" ? longText : text).map((t) => ({ role, content: t })),
    fc
      .array(role === "user" ? userBlock : assistantBlock, { minLength: 1, maxLength: 4 })
      .map((content) => ({ role, content })),
  );

/** An Anthropic Messages body: tools, system as string or blocks, alternating turns, client markers. */
export const anthropicBody: fc.Arbitrary<Json> = fc
  .record({
    model: fc.constantFrom("claude-sonnet-4-5", "claude-opus-5", "claude-haiku-4-5", "claude-unknown-9"),
    tools: fc.array(tool, { maxLength: 4 }),
    system: fc.oneof(
      fc.constant(undefined),
      longText,
      fc.array(
        fc.record({ t: longText, m: marker }).map(({ t, m }) => withMarker({ type: "text", text: t }, m)),
        {
          minLength: 1,
          maxLength: 3,
        },
      ),
    ),
    turns: fc.integer({ min: 0, max: 5 }),
    seed: fc.array(fc.tuple(message("user"), message("assistant")), { minLength: 3, maxLength: 3 }),
    last: message("user"),
    auto: fc.option(
      ttl.map((t) => (t ? { type: "ephemeral", ttl: t } : { type: "ephemeral" })),
      { freq: 5 },
    ),
    temperature: fc.option(fc.double({ min: 0, max: 1, noNaN: true })),
  })
  .map(({ model, tools, system, turns, seed, last, auto, temperature }) => {
    const messages: Json[] = [];
    for (let i = 0; i < turns; i++) {
      const pair = seed[i % seed.length];
      if (pair) messages.push(pair[0], pair[1]);
    }
    messages.push(last);
    const body: Json = { model, max_tokens: 64, messages };
    if (tools.length > 0) body.tools = tools;
    if (system !== undefined) body.system = system;
    if (auto) body.cache_control = auto;
    if (temperature !== null) body.temperature = temperature;
    return body;
  });

const chatPart = fc.oneof(
  longText.map((t) => ({ type: "text", text: t })),
  fc.constant({ type: "image_url", image_url: { url: `data:image/png;base64,${PNG_1X1}`, detail: "low" } }),
);

/** An OpenAI Chat Completions body. */
export const chatBody: fc.Arbitrary<Json> = fc
  .record({
    model: fc.constantFrom("gpt-4.1", "gpt-5.1", "gpt-5.6-terra", "gpt-4o", "gpt-9"),
    tools: fc.array(
      fc
        .record({ name: word, description: text, schema: jsonObject })
        .map(({ name, description, schema }) => ({
          type: "function",
          function: { name, description, parameters: { type: "object", properties: schema } },
        })),
      { maxLength: 3 },
    ),
    system: fc.option(longText),
    turns: fc.array(
      fc.tuple(
        fc.oneof(longText, fc.array(chatPart, { minLength: 1, maxLength: 3 })),
        fc.oneof(
          text.map((t) => ({ role: "assistant", content: t })),
          jsonObject.map((args) => ({
            role: "assistant",
            content: null,
            tool_calls: [
              {
                id: "call_1",
                type: "function",
                function: { name: "alpha", arguments: JSON.stringify(args, null, 1) },
              },
            ],
          })),
        ),
      ),
      { maxLength: 4 },
    ),
    last: fc.oneof(longText, fc.array(chatPart, { minLength: 1, maxLength: 3 })),
    key: fc.option(fc.constant("client-key"), { freq: 5 }),
  })
  .map(({ model, tools, system, turns, last, key }) => {
    const messages: Json[] = [];
    if (system !== null) messages.push({ role: "system", content: system });
    for (const [u, asst] of turns) {
      messages.push({ role: "user", content: u });
      messages.push(asst);
      if ("tool_calls" in asst) messages.push({ role: "tool", tool_call_id: "call_1", content: "result" });
    }
    messages.push({ role: "user", content: last });
    const body: Json = { model, messages, temperature: 0.2 };
    if (tools.length > 0) body.tools = tools;
    if (key) body.prompt_cache_key = key;
    return body;
  });

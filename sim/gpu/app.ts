import { type Context, Hono } from "hono";
import { IdFactory } from "../ids.ts";
import { isObject, type JsonObject, parseJsonObject } from "../json.ts";
import { sleep, sseEvent } from "../sse.ts";
import { textTokens } from "../tokens.ts";
import { type EngineOptions, KvEngine } from "./engine.ts";
import { BYTES_PER_TOKEN, renderChat, renderCompletion, tokenize } from "./prompt.ts";

/** Options of one simulated GPU backend (a vLLM server with prefix caching and prompt-token details on). */
export interface GpuBackendOptions extends Partial<EngineOptions> {
  name?: string;
  /** false: a request carrying `cache_salt` gets a 400, as a server that does not know the field. */
  acceptsCacheSalt?: boolean;
  /** Tokens of a reply when max_tokens allows. */
  replyTokens?: number;
  /** Wall clock in ms (the engine's time). */
  now?: () => number;
  /** Requests kept for `GET /__sim/gpu/requests`. */
  maxRecorded?: number;
}

/** One request as the backend received it. */
export interface GpuRecorded {
  path: string;
  headers: Record<string, string>;
  body: string;
  status: number;
  prompt_tokens: number;
  cached_tokens: number;
  at: number;
}

interface Fault {
  count: number;
  status?: number;
  delay_ms?: number;
  /** Only requests whose body contains this string (parallel tests share backends). */
  contains?: string;
}

export interface GpuBackend {
  app: Hono;
  engine: KvEngine<string>;
  fetch: (req: Request) => Response | Promise<Response>;
}

const PIECE_BYTES = 16;

/** vLLM's error body (recent versions wrap it in `error`). */
function vllmError(c: Context, status: 400 | 404 | 500 | 503, message: string): Response {
  return c.json(
    {
      error: {
        message,
        type: status === 400 ? "BadRequestError" : "InternalServerError",
        param: null,
        code: status,
      },
    },
    status,
  );
}

/**
 * A simulated vLLM server: `POST /v1/chat/completions` and `/v1/completions` (JSON or SSE, with
 * `usage.prompt_tokens_details.cached_tokens`), served by a KvEngine on the wall clock: the answer comes
 * after the modelled queueing and prefill, a stream's pieces at the decode rate. Control API under
 * `/__sim/gpu/`: `state`, `requests?contains=&header=name:value`, `faults` (POST `{count, status?, delay_ms?, contains?}`), `reset`.
 * A request header `x-sim-gpu-delay-ms` holds its answer back (tests make requests overlap with it).
 */
export function createGpuBackend(opts: GpuBackendOptions = {}): GpuBackend {
  const name = opts.name ?? "gpu";
  const now = opts.now ?? Date.now;
  const engine = new KvEngine<string>({
    capacityTokens: opts.capacityTokens ?? 200_000,
    prefillTokensPerS: opts.prefillTokensPerS ?? 2_000_000,
    decodeTokensPerS: opts.decodeTokensPerS ?? 5_000,
    overheadMs: opts.overheadMs ?? 1,
    blockTokens: opts.blockTokens ?? 16,
  });
  const ids = new IdFactory();
  let recorded: GpuRecorded[] = [];
  let faults: Fault[] = [];
  let clock = 0;
  const app = new Hono();

  const serve = (kind: "chat" | "completion") => async (c: Context) => {
    const raw = await c.req.text();
    const rec: GpuRecorded = {
      path: c.req.path,
      headers: Object.fromEntries([...c.req.raw.headers].map(([k, v]) => [k.toLowerCase(), v])),
      body: raw,
      status: 0,
      prompt_tokens: 0,
      cached_tokens: 0,
      at: now(),
    };
    recorded.push(rec);
    if (recorded.length > (opts.maxRecorded ?? 500)) recorded = recorded.slice(-(opts.maxRecorded ?? 500));
    const k = faults.findIndex((f) => f.contains === undefined || raw.includes(f.contains));
    const fault = faults[k];
    if (fault) {
      fault.count--;
      if (fault.count <= 0) faults.splice(k, 1);
      if (fault.delay_ms) await sleep(fault.delay_ms);
      if (fault.status) {
        rec.status = fault.status;
        return vllmError(
          c,
          fault.status >= 500 ? (fault.status === 503 ? 503 : 500) : 400,
          `simulated fault ${fault.status}`,
        );
      }
    }
    const body = parseJsonObject(raw);
    const fail = (message: string) => {
      rec.status = 400;
      return vllmError(c, 400, message);
    };
    if (!body) return fail("Invalid JSON body");
    if (typeof body.model !== "string") return fail("model: Field required");
    if (body.cache_salt !== undefined) {
      if (opts.acceptsCacheSalt === false) return fail("cache_salt: Extra inputs are not permitted");
      if (typeof body.cache_salt !== "string" || body.cache_salt === "")
        return fail("cache_salt must be a non-empty string");
    }
    if (kind === "chat" && !Array.isArray(body.messages)) return fail("messages: Field required");
    if (kind === "completion" && body.prompt === undefined) return fail("prompt: Field required");
    const text = kind === "chat" ? renderChat(body) : renderCompletion(body);
    const salt = typeof body.cache_salt === "string" ? body.cache_salt : null;
    const prompt = tokenize(text, body.model, salt, engine.blockTokens);
    const cap = [body.max_completion_tokens, body.max_tokens].find((v) => typeof v === "number") as
      | number
      | undefined;
    const reply = replyText(
      name,
      prompt.tokens,
      Math.max(1, Math.min(cap ?? Number.POSITIVE_INFINITY, opts.replyTokens ?? 12)),
    );
    const output = textTokens(reply);
    clock = Math.max(clock, now());
    const adm = engine.submit(
      { blocks: prompt.blocks, promptTokens: prompt.tokens, outputTokens: output },
      clock,
    );
    rec.prompt_tokens = prompt.tokens;
    rec.cached_tokens = adm.cachedTokens;
    rec.status = 200;
    const extra = Number(c.req.header("x-sim-gpu-delay-ms") ?? 0);
    await sleep(
      Math.max(0, adm.firstTokenAt - now()) + (Number.isFinite(extra) ? Math.min(extra, 30_000) : 0),
    );

    const usage = {
      prompt_tokens: prompt.tokens,
      total_tokens: prompt.tokens + output,
      completion_tokens: output,
      prompt_tokens_details: { cached_tokens: adm.cachedTokens },
    };
    const id = ids.next(kind === "chat" ? "chatcmpl-" : "cmpl-", 24);
    const created = Math.floor(now() / 1000);
    const finish = cap !== undefined && output >= cap ? "length" : "stop";
    const headers = { "x-sim-gpu-backend": name };
    if (body.stream !== true) {
      await sleep(Math.max(0, adm.doneAt - now()));
      const choice =
        kind === "chat"
          ? {
              index: 0,
              message: { role: "assistant", content: reply },
              logprobs: null,
              finish_reason: finish,
            }
          : { index: 0, text: reply, logprobs: null, finish_reason: finish };
      const object = kind === "chat" ? "chat.completion" : "text_completion";
      return c.json({ id, object, created, model: body.model, choices: [choice], usage }, 200, headers);
    }
    const object = kind === "chat" ? "chat.completion.chunk" : "text_completion";
    const chunk = (choices: JsonObject[], extraFields: JsonObject = {}) =>
      sseEvent(undefined, { id, object, created, model: body.model, choices, ...extraFields });
    const events: string[] = [];
    if (kind === "chat")
      events.push(
        chunk([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]),
      );
    for (let i = 0; i < reply.length; i += PIECE_BYTES) {
      const piece = reply.slice(i, i + PIECE_BYTES);
      events.push(
        chunk([
          kind === "chat"
            ? { index: 0, delta: { content: piece }, logprobs: null, finish_reason: null }
            : { index: 0, text: piece, logprobs: null, finish_reason: null },
        ]),
      );
    }
    events.push(
      chunk([
        kind === "chat"
          ? { index: 0, delta: {}, logprobs: null, finish_reason: finish }
          : { index: 0, text: "", logprobs: null, finish_reason: finish },
      ]),
    );
    const options = isObject(body.stream_options) ? body.stream_options : {};
    if (options.include_usage === true) events.push(chunk([], { usage }));
    events.push("data: [DONE]\n\n");
    const perPieceMs = (PIECE_BYTES / BYTES_PER_TOKEN / engine.opts.decodeTokensPerS) * 1000;
    return paced(events, perPieceMs, headers);
  };

  app.post("/v1/chat/completions", serve("chat"));
  app.post("/v1/completions", serve("completion"));
  app.get("/health", (c) => c.body(null, 200));
  app.get("/__sim/gpu/state", (c) =>
    c.json({
      name,
      capacity_blocks: engine.capacityBlocks,
      cached_blocks: engine.cachedBlocks,
      running: engine.running,
      stats: engine.stats,
    }),
  );
  app.get("/__sim/gpu/requests", (c) => {
    const needle = c.req.query("contains");
    // `header=name:value`: only requests that carried that header (a harness marks requests it cannot mark in the body).
    const header = c.req.query("header");
    const at = header?.indexOf(":") ?? -1;
    const [name, value] =
      header && at > 0 ? [header.slice(0, at).toLowerCase(), header.slice(at + 1)] : [null, null];
    return c.json({
      requests: recorded.filter(
        (r) => (!needle || r.body.includes(needle)) && (name === null || r.headers[name] === value),
      ),
    });
  });
  app.post("/__sim/gpu/faults", async (c) => {
    const f = parseJsonObject(await c.req.text());
    const count = typeof f?.count === "number" && f.count >= 1 ? Math.floor(f.count) : 1;
    const status = typeof f?.status === "number" ? f.status : undefined;
    const delay = typeof f?.delay_ms === "number" ? f.delay_ms : undefined;
    if (status === undefined && delay === undefined)
      return c.json({ error: "a fault needs status or delay_ms" }, 400);
    const contains = typeof f?.contains === "string" ? f.contains : undefined;
    faults.push({
      count,
      ...(status ? { status } : {}),
      ...(delay ? { delay_ms: delay } : {}),
      ...(contains ? { contains } : {}),
    });
    return c.json({ faults });
  });
  app.delete("/__sim/gpu/faults", (c) => {
    faults = [];
    return c.json({ faults });
  });
  app.post("/__sim/gpu/reset", (c) => {
    engine.reset();
    recorded = [];
    faults = [];
    return c.json({ reset: true });
  });
  app.notFound((c) => vllmError(c, 404, `Not found: ${c.req.method} ${c.req.path}`));
  return { app, engine, fetch: (req) => app.fetch(req) };
}

/** The reply: a fixed sentence, cut or padded to `tokens` tokens (4 bytes each). */
function replyText(name: string, promptTokens: number, tokens: number): string {
  const base = `Reply from ${name} to a prompt of ${promptTokens} tokens. `;
  let text = base;
  while (text.length < tokens * BYTES_PER_TOKEN) text += base;
  return text.slice(0, tokens * BYTES_PER_TOKEN);
}

/** An SSE response sending one event per read, `delayMs` apart (the decode rate). */
function paced(events: string[], delayMs: number, headers: Record<string, string>): Response {
  const encoder = new TextEncoder();
  let i = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const event = events[i];
        if (event === undefined) {
          controller.close();
          return;
        }
        if (i > 0 && delayMs >= 1) await sleep(delayMs);
        i++;
        controller.enqueue(encoder.encode(event));
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(stream, {
    status: 200,
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", ...headers },
  });
}

import { Hono } from "hono";
import type { SimDeps, SimEnv } from "../context.ts";
import { invalid } from "../errors.ts";
import { parseJsonObject } from "../json.ts";
import { sleep, sseResponse } from "../sse.ts";
import type { BilledUsage } from "../stats.ts";
import { commitPromptCache, planPromptCache } from "./cache.ts";
import { diagnose, fingerprintOf, parseDiagnostics } from "./diagnostics.ts";
import { minCacheableTokens } from "./models.ts";
import { buildPrompt } from "./prompt.ts";
import { buildReply, messageJson } from "./reply.ts";
import { checkPrewarm, conversationFacts, parseMessagesRequest } from "./request.ts";
import { messageEvents } from "./stream.ts";
import { parseThread, resolveThread } from "./threads.ts";

/** `POST /v1/messages` and `POST /v1/messages/count_tokens`, mounted under `/anthropic`. */
export function anthropicRoutes(deps: SimDeps): Hono<SimEnv> {
  const app = new Hono<SimEnv>();
  const { opts, ids } = deps;

  app.post("/v1/messages", async (c) => {
    const sent = parseJsonObject(c.var.body);
    if (!sent) throw invalid("The request body is not valid JSON.");
    const ns = c.var.ns;
    const thread = parseThread(sent.thread);
    // A thread turn is the whole conversation the server holds; its caching is the server's (automatic).
    const body = thread
      ? { ...resolveThread(ns.threads, thread, sent), cache_control: { type: "ephemeral" } }
      : sent;
    const req = parseMessagesRequest(body, "create");
    const previousId = parseDiagnostics(body.diagnostics);
    const prompt = buildPrompt(req);
    checkPrewarm(req);
    const ttlMs = { "5m": opts.ttl5mMs, "1h": opts.ttl1hMs };
    const store = ns.anthropic;
    const plan = planPromptCache(
      store,
      prompt.chain,
      prompt.breakpoints,
      minCacheableTokens(req.model),
      ns.now(),
      ttlMs,
    );
    const cache = plan.outcome;
    const facts = conversationFacts(req);
    const reply = buildReply(req, { provider: "anthropic", model: req.model, ...facts }, opts.reply, () =>
      ids.next("toolu_01", 22),
    );
    const billed: BilledUsage = {
      uncached: cache.uncached,
      read: cache.read,
      write5m: cache.write5m,
      write1h: cache.write1h,
      output: reply.outputTokens,
    };
    ns.stats.bill("anthropic", billed);
    c.var.record.usage = billed;
    const id = ids.next("msg_01", 22);
    const fingerprint = fingerprintOf(req, cache);
    const diagnostics =
      previousId === undefined
        ? null
        : diagnose(previousId === null ? null : ns.fingerprints.get(previousId), fingerprint, cache.read);
    // The API keeps a fingerprint only for a request that carried `diagnostics` (the docs: "for requests that
    // omit the object, the API stores nothing"), so a first turn opts in with `previous_message_id: null`.
    if (previousId !== undefined) ns.fingerprints.set(id, fingerprint);
    if (thread) {
      const messages = [...(Array.isArray(body.messages) ? body.messages : [])];
      messages.push({ role: "assistant", content: reply.content });
      ns.threads.set(id, {
        model: req.model,
        system: body.system,
        tools: body.tools,
        messages,
        continued: false,
      });
    }
    const headers = { "request-id": c.var.requestId };
    // The entries this request writes exist only once its response starts (README "Concurrent requests").
    if (opts.firstTokenMs > 0) await sleep(opts.firstTokenMs);
    commitPromptCache(store, plan.writes, ns.now(), ttlMs);
    if (req.stream)
      return sseResponse(
        messageEvents(id, req.model, reply, cache, diagnostics),
        opts.streamDelayMs,
        headers,
      );
    return c.json(messageJson(id, req.model, reply, cache, diagnostics), 200, headers);
  });

  app.post("/v1/messages/count_tokens", (c) => {
    const body = parseJsonObject(c.var.body);
    if (!body) throw invalid("The request body is not valid JSON.");
    const prompt = buildPrompt(parseMessagesRequest(body, "count"));
    return c.json({ input_tokens: prompt.totalTokens }, 200, { "request-id": c.var.requestId });
  });

  return app;
}

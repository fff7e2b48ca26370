import { Hono } from "hono";
import { anthropicRoutes } from "./anthropic/routes.ts";
import { bedrockRoutes } from "./bedrock/routes.ts";
import { compatChat } from "./compat/chat.ts";
import type { SimDeps, SimEnv } from "./context.ts";
import { controlRoutes } from "./control.ts";
import { type Provider, ProviderError } from "./errors.ts";
import { geminiRoutes } from "./gemini/routes.ts";
import { IdFactory } from "./ids.ts";
import { Namespaces } from "./namespace.ts";
import { openaiRoutes } from "./openai/routes.ts";
import { type ResolvedOptions, resolveOptions, type SimulatorOptions } from "./options.ts";
import { errorResponse } from "./provider-errors.ts";
import { providerRequest } from "./provider-middleware.ts";

export type { ReplyContext, SimulatorOptions } from "./options.ts";

/** A simulator instance: a Hono app plus its state. */
export interface Simulator {
  app: Hono<SimEnv>;
  /** `app.fetch`, for `serve()` or a Worker. */
  fetch: (req: Request) => Response | Promise<Response>;
  options: ResolvedOptions;
  /** Resets every namespace. */
  resetAll(): void;
}

function providerOf(path: string): Provider | undefined {
  if (path.startsWith("/anthropic/")) return "anthropic";
  if (path.startsWith("/openai/")) return "openai";
  if (path.startsWith("/gemini/")) return "gemini";
  if (path.startsWith("/compat/")) return "compat";
  if (path.startsWith("/bedrock/")) return "bedrock";
  return undefined;
}

/** Builds the provider simulator (Anthropic Messages, OpenAI Chat Completions and Responses, Gemini, Bedrock, control API). */
export function createSimulator(options?: SimulatorOptions): Simulator {
  const opts = resolveOptions(options);
  const deps: SimDeps = { opts, namespaces: new Namespaces(opts), ids: new IdFactory() };
  const app = new Hono<SimEnv>();

  app.route("/__sim", controlRoutes(deps));
  app.use("/anthropic/*", providerRequest("anthropic", deps));
  app.use("/openai/*", providerRequest("openai", deps));
  app.route("/anthropic", anthropicRoutes(deps));
  app.use("/gemini/*", providerRequest("gemini", deps));
  app.route("/openai", openaiRoutes(deps));
  app.route("/gemini", geminiRoutes(deps));
  // OpenAI-compatible providers (src/core/compat-presets.ts): DeepSeek also answers without the `/v1`.
  app.use("/compat/*", providerRequest("compat", deps));
  app.post("/compat/:preset/v1/chat/completions", (c) => compatChat(c, deps));
  app.post("/compat/:preset/chat/completions", (c) => compatChat(c, deps));
  app.use("/bedrock/*", providerRequest("bedrock", deps));
  app.route("/bedrock", bedrockRoutes(deps));

  app.notFound((c) => {
    const provider = providerOf(c.req.path);
    const message = `Not found: ${c.req.method} ${c.req.path}`;
    if (provider) return errorResponse(provider, { status: 404, message }, c.var.requestId ?? "req_none");
    return c.json({ error: { message } }, 404);
  });

  app.onError((err, c) => {
    const provider = providerOf(c.req.path);
    const requestId = c.var.requestId ?? "req_none";
    if (err instanceof ProviderError && provider) return errorResponse(provider, err.init, requestId);
    // Unexpected: visible in the log, opaque to the client.
    console.error(
      JSON.stringify({ level: "error", msg: "simulator error", path: c.req.path, error: String(err) }),
    );
    const init = { status: 500, message: "Internal server error" };
    return provider
      ? errorResponse(provider, init, requestId)
      : c.json({ error: { message: init.message } }, 500);
  });

  return { app, fetch: (req) => app.fetch(req), options: opts, resetAll: () => deps.namespaces.resetAll() };
}

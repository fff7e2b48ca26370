import { type Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { ConfigError, errorResponse, StokerError } from "./core/errors.ts";
import type { AppEnv } from "./edge/context.ts";
import { flavor, requestContext } from "./edge/middleware.ts";
import { anthropicRoutes } from "./edge/routes/anthropic.ts";
import { bedrockRoutes } from "./edge/routes/bedrock.ts";
import { compatRoutes } from "./edge/routes/compat.ts";
import { dashboardRoutes } from "./edge/routes/dashboard.ts";
import { devRoutes } from "./edge/routes/dev.ts";
import { geminiRoutes } from "./edge/routes/gemini.ts";
import { gpuRoutes } from "./edge/routes/gpu.ts";
import { openAIRoutes } from "./edge/routes/openai.ts";
import { v1Routes } from "./edge/routes/v1.ts";

/** Builds the Hono app: context, route families, and the one error handler. */
export function createApp() {
  const app = new Hono<AppEnv>();
  app.use(requestContext());
  app.get("/healthz", (c) => c.json({ ok: true, simulator: c.var.config.simulator }));
  app.use("/anthropic/*", flavor("anthropic"));
  app.use("/openai/*", flavor("openai"));
  app.use("/gemini/*", flavor("gemini"));
  app.use("/bedrock/*", flavor("bedrock"));
  app.route("/anthropic", anthropicRoutes);
  app.use("/gpu/*", flavor("openai"));
  app.use("/compat/*", flavor("openai"));
  app.route("/openai", openAIRoutes);
  app.route("/gemini", geminiRoutes);
  app.route("/bedrock", bedrockRoutes);
  app.route("/gpu", gpuRoutes);
  app.route("/compat", compatRoutes);
  app.route("/", v1Routes());
  app.route("/", dashboardRoutes);
  app.route("/__dev", devRoutes);

  app.notFound((c) => {
    const message = `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`;
    return errorResponse(
      c.var.flavor ?? "openai",
      new StokerError(404, "not_found_error", message),
      c.var.requestId,
    );
  });

  app.onError(handleError);
  return app;
}

/** The one error handler: expected errors in the provider's shape; anything else an opaque 500. */
export function handleError(err: Error, c: Context<AppEnv>): Response {
  const requestId = c.var.requestId ?? "unknown";
  const flavor = c.var.flavor ?? "openai";
  if (err instanceof StokerError) return errorResponse(flavor, err, requestId);
  // Hono's own validators (malformed JSON, a wrong content type) answer with an HTTPException.
  if (err instanceof HTTPException && err.status < 500) {
    const kind = err.status === 415 ? "unsupported_media_type" : "invalid_request_error";
    return errorResponse(
      flavor,
      new StokerError(err.status, kind, err.message || "Invalid request."),
      requestId,
    );
  }
  // Unexpected: the detail goes to the log only (names, never values); the client gets the request id.
  const kind = err instanceof ConfigError ? "config_error" : "internal_error";
  console.error(JSON.stringify({ level: "error", msg: kind, request_id: requestId, error: err.name }));
  if (err instanceof ConfigError)
    console.error(JSON.stringify({ level: "error", msg: "config", detail: err.message }));
  const opaque = new StokerError(500, "api_error", `Internal error in Stoker (request id ${requestId}).`);
  return errorResponse(flavor, opaque, requestId);
}

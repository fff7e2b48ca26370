import { Hono } from "hono";
import type { SimDeps, SimEnv } from "../context.ts";
import { chatCompletions } from "./chat.ts";
import { createResponse } from "./responses.ts";

/** `POST /v1/chat/completions` and `POST /v1/responses`, mounted under `/openai`. */
export function openaiRoutes(deps: SimDeps): Hono<SimEnv> {
  const app = new Hono<SimEnv>();
  app.post("/v1/chat/completions", (c) => chatCompletions(c, deps));
  app.post("/v1/responses", (c) => createResponse(c, deps));
  return app;
}

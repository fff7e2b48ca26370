import { Hono } from "hono";
import { openAIChat, openAIResponses } from "../../upstream/endpoints.ts";
import type { AppEnv } from "../context.ts";
import { tenantAuth } from "../middleware.ts";
import { proxy } from "../proxy.ts";

/** OpenAI Chat Completions and Responses, mounted at /openai (clients use baseURL http://host/openai/v1). */
export const openAIRoutes = new Hono<AppEnv>()
  .post("/v1/chat/completions", tenantAuth(), proxy(openAIChat))
  .post("/v1/responses", tenantAuth(), proxy(openAIResponses));

import { Hono } from "hono";
import { anthropicCountTokens, anthropicMessages } from "../../upstream/endpoints.ts";
import type { AppEnv } from "../context.ts";
import { tenantAuth } from "../middleware.ts";
import { proxy } from "../proxy.ts";

/** Anthropic Messages API, mounted at /anthropic (clients use baseURL http://host/anthropic). */
export const anthropicRoutes = new Hono<AppEnv>()
  .post("/v1/messages", tenantAuth(), proxy(anthropicMessages))
  .post("/v1/messages/count_tokens", tenantAuth(), proxy(anthropicCountTokens));

import { Hono } from "hono";
import { gpuChat, gpuCompletions } from "../../gpu/endpoints.ts";
import type { AppEnv } from "../context.ts";
import { gpuProxy } from "../gpu-proxy.ts";
import { tenantAuth } from "../middleware.ts";

/** GPU pools, mounted at /gpu (clients use baseURL http://host/gpu/<pool>/v1). OpenAI error shapes. */
export const gpuRoutes = new Hono<AppEnv>()
  .post("/:pool/v1/chat/completions", tenantAuth(), gpuProxy(gpuChat))
  .post("/:pool/v1/completions", tenantAuth(), gpuProxy(gpuCompletions));

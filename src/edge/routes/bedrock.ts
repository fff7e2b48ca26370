import { Hono } from "hono";
import { StokerError } from "../../core/errors.ts";
import { bedrockConverse, bedrockInvoke } from "../../upstream/bedrock.ts";
import type { AppEnv } from "../context.ts";
import { tenantAuth } from "../middleware.ts";
import { proxy } from "../proxy.ts";

const invoke = proxy(bedrockInvoke);
const converse = proxy(bedrockConverse);
const operations: Record<string, ReturnType<typeof proxy>> = {
  invoke,
  "invoke-with-response-stream": invoke,
  converse,
  "converse-stream": converse,
};

/**
 * bedrock-runtime's model calls, mounted at /bedrock (the AWS SDK with `endpoint: "https://host/bedrock"`):
 * `POST /model/{modelId}/converse`, `/converse-stream`, `/invoke`, `/invoke-with-response-stream`.
 */
export const bedrockRoutes = new Hono<AppEnv>().post(
  "/model/:modelId/:operation",
  tenantAuth(),
  async function bedrockCall(c) {
    const handler = operations[c.req.param("operation")];
    if (!handler)
      throw new StokerError(404, "not_found_error", `No route for POST ${new URL(c.req.url).pathname}.`);
    return handler(c);
  },
);

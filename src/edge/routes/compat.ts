import { Hono } from "hono";
import { StokerError } from "../../core/errors.ts";
import { compatChat } from "../../upstream/compat.ts";
import type { AppEnv } from "../context.ts";
import { tenantAuth } from "../middleware.ts";
import { proxy } from "../proxy.ts";

/**
 * OpenAI-compatible upstreams of COMPAT_UPSTREAMS (DeepSeek, xAI, Moonshot, OpenRouter, ...), mounted at
 * /compat: the `openai` SDK with baseURL http://host/compat/{name}/v1. A name the deploy does not configure
 * is a 404 in OpenAI's error shape, answered before the tenant's key is looked up.
 */
export const compatRoutes = new Hono<AppEnv>().post(
  "/:name/v1/chat/completions",
  async function knownUpstream(c, next) {
    const name = c.req.param("name");
    if (!c.var.config.compat.has(name))
      throw new StokerError(
        404,
        "not_found_error",
        `No compat upstream named ${JSON.stringify(name.slice(0, 64))} is configured (COMPAT_UPSTREAMS).`,
        { param: "name" },
      );
    await next();
  },
  tenantAuth(),
  async function compatChatCompletions(c) {
    const upstream = c.var.config.compat.get(c.req.param("name")) as NonNullable<
      ReturnType<typeof c.var.config.compat.get>
    >;
    return proxy(compatChat(upstream))(c);
  },
);

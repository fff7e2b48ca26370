import { Hono } from "hono";
import type { CompatUpstream } from "../../core/compat-config.ts";
import type { Config } from "../../core/config.ts";
import { StokerError } from "../../core/errors.ts";
import { compatChat } from "../../upstream/compat.ts";
import type { AppEnv } from "../context.ts";
import { tenantAuth } from "../middleware.ts";
import { proxy } from "../proxy.ts";

/** The configured compat upstream of that name, or a 404 in OpenAI's error shape. */
function upstreamOf(config: Config, name: string): CompatUpstream {
  const upstream = config.compat.get(name);
  if (!upstream)
    throw new StokerError(
      404,
      "not_found_error",
      `No compat upstream named ${JSON.stringify(name.slice(0, 64))} is configured (COMPAT_UPSTREAMS).`,
      { param: "name" },
    );
  return upstream;
}

/**
 * OpenAI-compatible upstreams of COMPAT_UPSTREAMS (DeepSeek, xAI, Moonshot, OpenRouter, ...), mounted at
 * /compat: the `openai` SDK with baseURL http://host/compat/{name}/v1. A name the deploy does not configure
 * is a 404 in OpenAI's error shape, answered before the tenant's key is looked up.
 */
export const compatRoutes = new Hono<AppEnv>().post(
  "/:name/v1/chat/completions",
  async function knownUpstream(c, next) {
    upstreamOf(c.var.config, c.req.param("name"));
    await next();
  },
  tenantAuth(),
  async function compatChatCompletions(c) {
    return proxy(compatChat(upstreamOf(c.var.config, c.req.param("name"))))(c);
  },
);

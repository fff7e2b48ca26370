import type { MiddlewareHandler } from "hono";
import { getConfig } from "../core/config.ts";
import { StokerError } from "../core/errors.ts";
import { createLogger } from "../core/log.ts";
import type { Provider } from "../core/provider.ts";
import { authenticate } from "./auth.ts";
import type { AppEnv } from "./context.ts";

let announced = false;

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** Gives every request an id (returned in `x-stoker-request-id`, on every log line), its config and a logger. */
export function requestContext(): MiddlewareHandler<AppEnv> {
  return async function requestContext(c, next) {
    const requestId = `req_stk_${crypto.randomUUID().replaceAll("-", "")}`;
    c.set("requestId", requestId);
    c.set("flavor", "openai");
    const config = getConfig(c.env);
    c.set("config", config);
    const log = createLogger(requestId, config.logLevel);
    c.set("log", log);
    // `npm start` serves a well-known dev key and admin token: a page on another site that rebinds its DNS
    // name to 127.0.0.1 must not reach them, so only loopback host names are answered.
    if (config.loopbackOnly && !LOOPBACK.has(new URL(c.req.url).hostname))
      throw new StokerError(
        403,
        "permission_error",
        "Local development answers only on localhost or 127.0.0.1.",
      );
    if (!announced && !config.simulator && config.secretIsDevDefault) {
      announced = true;
      log.warn("config.dev_secret", {
        note: "STOKER_SECRET is not set: tenant salts and stored keepalive requests use the built-in dev value. Set it with `wrangler secret put STOKER_SECRET`.",
      });
    }
    if (config.simulator && !announced) {
      announced = true;
      log.warn("upstream.simulator", {
        note: "No provider key configured: requests go to Stoker's provider simulator.",
        anthropic: config.upstreams.anthropic.baseUrl,
        openai: config.upstreams.openai.baseUrl,
      });
    }
    await next();
    c.header("x-stoker-request-id", requestId);
  };
}

/** Marks a route family with its provider's error shape. */
export function flavor(name: Provider): MiddlewareHandler<AppEnv> {
  return async function setFlavor(c, next) {
    c.set("flavor", name);
    await next();
  };
}

/** Resolves the tenant before the body is read, so unknown callers cost nothing. */
export function tenantAuth(): MiddlewareHandler<AppEnv> {
  return async function tenantAuth(c, next) {
    // Only Gemini routes take the key from the query (`?key=`): the URL is parsed for them alone.
    const query = c.var.flavor === "gemini" ? new URL(c.req.url).searchParams : undefined;
    c.set("tenant", await authenticate(c.req.raw.headers, c.var.config, c.var.flavor, c.env, query));
    await next();
  };
}

import { OpenAPIHono } from "@hono/zod-openapi";
import { StokerError } from "../../core/errors.ts";
import type { AppEnv } from "../context.ts";
import { flavor } from "../middleware.ts";
import { mountAdmin } from "./admin.ts";
import { mountAnalytics } from "./analytics.ts";

/**
 * The `/v1` API (analytics and admin) in OpenAI's error shape; its OpenAPI 3.1 document is generated from
 * the same zod schemas that validate each request.
 */
export function v1Routes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (result.success) return;
      const issue = result.error.issues[0];
      const param = issue?.path.length ? issue.path.join(".") : undefined;
      const message = issue ? `${param ? `${param}: ` : ""}${issue.message}` : "invalid request";
      throw new StokerError(400, "invalid_request_error", message, param ? { param } : {});
    },
  });
  app.use("/v1/*", flavor("openai"));
  app.openAPIRegistry.registerComponent("securitySchemes", "tenantKey", {
    type: "http",
    scheme: "bearer",
    description:
      "The tenant's Stoker key (also accepted as x-api-key or x-stoker-key; on the Gemini routes as x-goog-api-key or ?key=)",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "adminToken", {
    type: "http",
    scheme: "bearer",
    description: "ADMIN_TOKEN",
  });
  mountAnalytics(app);
  mountAdmin(app);
  app.doc31("/v1/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Stoker analytics and admin API",
      version: "1",
      description: "Per-tenant cache analytics (tenant key) and tenant administration (ADMIN_TOKEN).",
    },
  });
  return app;
}

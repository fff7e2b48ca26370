import { Hono } from "hono";
import { StokerError } from "../../core/errors.ts";
import { geminiCountTokens, geminiGenerate } from "../../upstream/gemini.ts";
import type { AppEnv } from "../context.ts";
import { tenantAuth } from "../middleware.ts";
import { proxy } from "../proxy.ts";

const generate = proxy(geminiGenerate);
const methods: Record<string, ReturnType<typeof proxy>> = {
  generateContent: generate,
  streamGenerateContent: generate,
  countTokens: proxy(geminiCountTokens),
};

/**
 * The Gemini API, mounted at /gemini (`@google/genai` with `httpOptions.baseUrl` http://host/gemini): model
 * calls under `v1beta` (the SDK's default) and `v1`, the method after the colon.
 */
export const geminiRoutes = new Hono<AppEnv>().post(
  "/:version{v1beta|v1}/models/:call",
  tenantAuth(),
  async function geminiCall(c) {
    const call = c.req.param("call");
    const at = call.lastIndexOf(":");
    const handler = at > 0 ? methods[call.slice(at + 1)] : undefined;
    if (!handler)
      throw new StokerError(404, "not_found_error", `No route for POST ${new URL(c.req.url).pathname}.`);
    return handler(c);
  },
);

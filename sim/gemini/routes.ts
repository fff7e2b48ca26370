import { Hono } from "hono";
import type { SimDeps, SimEnv } from "../context.ts";
import { ProviderError } from "../errors.ts";
import {
  createCachedContent,
  deleteCachedContent,
  getCachedContent,
  listCachedContents,
  patchCachedContent,
} from "./cached-contents.ts";
import { countTokens, generate } from "./generate.ts";

/**
 * The Gemini API (`v1beta` and `v1`), mounted under `/gemini`: `models/{model}:generateContent`,
 * `:streamGenerateContent` (SSE with `alt=sse`), `:countTokens`, and `cachedContents`.
 */
export function geminiRoutes(deps: SimDeps): Hono<SimEnv> {
  const app = new Hono<SimEnv>();
  app.post("/:version{v1beta|v1}/models/:call", (c) => {
    const call = c.req.param("call");
    const at = call.lastIndexOf(":");
    const model = at > 0 ? call.slice(0, at) : call;
    const method = at > 0 ? call.slice(at + 1) : "";
    if (method === "generateContent") return generate(c, deps, model, false);
    if (method === "streamGenerateContent") {
      // Without alt=sse the API streams one JSON array; the simulator (and the SDK) speak only SSE.
      if (c.req.query("alt") !== "sse")
        throw new ProviderError({
          status: 400,
          message: "The simulator streams only with alt=sse.",
          status_text: "INVALID_ARGUMENT",
        });
      return generate(c, deps, model, true);
    }
    if (method === "countTokens") return countTokens(c, model);
    throw new ProviderError({
      status: 404,
      message: `Method not found: ${method || call}.`,
      status_text: "NOT_FOUND",
    });
  });
  app.post("/:version{v1beta|v1}/cachedContents", (c) => createCachedContent(c, deps));
  app.get("/:version{v1beta|v1}/cachedContents", (c) => listCachedContents(c));
  app.get("/:version{v1beta|v1}/cachedContents/:id", (c) => getCachedContent(c, c.req.param("id")));
  app.patch("/:version{v1beta|v1}/cachedContents/:id", (c) => patchCachedContent(c, c.req.param("id")));
  app.delete("/:version{v1beta|v1}/cachedContents/:id", (c) => deleteCachedContent(c, c.req.param("id")));
  return app;
}

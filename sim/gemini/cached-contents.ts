import type { Context } from "hono";
import type { SimDeps, SimEnv } from "../context.ts";
import { ProviderError } from "../errors.ts";
import type { JsonObject } from "../json.ts";
import type { CachedContent } from "./cache.ts";
import { parseBody } from "./generate.ts";
import { bareModel, geminiMinimum } from "./models.ts";
import { type Head, invalidArgument, parseContents, promptBlocks } from "./prompt.ts";

// Source: ai.google.dev/api/caching: `ttl` is a Duration ("300s"), `expireTime` a Timestamp; "If not set,
// the TTL defaults to 1 hour". Only `ttl` and `expireTime` can be updated (PATCH with `updateMask`).
const DEFAULT_TTL_MS = 3_600_000;

/** The new expiry a body asks for: `ttl` ("123.5s") or `expireTime` (RFC 3339); undefined when neither. */
function expiryOf(body: JsonObject, now: number): number | undefined {
  if (body.ttl !== undefined && body.expireTime !== undefined)
    throw invalidArgument("Only one of ttl or expire_time may be set.");
  if (body.ttl !== undefined) {
    const m = typeof body.ttl === "string" ? /^(\d+(?:\.\d{1,9})?)s$/.exec(body.ttl) : null;
    if (!m)
      throw invalidArgument(
        `Invalid value at 'cached_content.ttl' (type.googleapis.com/google.protobuf.Duration), "${String(body.ttl)}"`,
      );
    return now + Math.round(Number(m[1]) * 1000);
  }
  if (body.expireTime !== undefined) {
    const t = typeof body.expireTime === "string" ? Date.parse(body.expireTime) : Number.NaN;
    if (!Number.isFinite(t))
      throw invalidArgument(
        "Invalid value at 'cached_content.expire_time' (type.googleapis.com/google.protobuf.Timestamp)",
      );
    if (t <= now) throw invalidArgument("expire_time must be in the future.");
    return t;
  }
  return undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The resource as the API returns it (never its contents). */
export function cachedContentJson(e: CachedContent): JsonObject {
  return {
    name: e.name,
    ...(e.displayName !== undefined ? { displayName: e.displayName } : {}),
    model: e.model,
    createTime: iso(e.createTime),
    updateTime: iso(e.updateTime),
    expireTime: iso(e.expireTime),
    usageMetadata: { totalTokenCount: e.tokens },
  };
}

function notFound(name: string): ProviderError {
  // The API answers an unknown or another project's cache alike.
  return new ProviderError({
    status: 403,
    message: `CachedContent not found (or permission denied): ${name}`,
    status_text: "PERMISSION_DENIED",
  });
}

/** `POST /v1beta/cachedContents`. Creation bills the cached tokens once at the input price (write column). */
export function createCachedContent(c: Context<SimEnv>, deps: SimDeps): Response {
  const ns = c.var.ns;
  const now = ns.now();
  const body = parseBody(c);
  if (typeof body.model !== "string" || body.model === "")
    throw invalidArgument("* CreateCachedContentRequest.cached_content.model: model is required.");
  const model = bareModel(body.model);
  const head: Head = {
    systemInstruction: body.systemInstruction,
    tools: body.tools,
    toolConfig: body.toolConfig,
  };
  const contents = parseContents(body);
  const blocks = promptBlocks(model, head, contents);
  const tokens = blocks.at(-1)?.cumulative ?? 0;
  const minimum = geminiMinimum(model);
  if (tokens < minimum)
    throw invalidArgument(
      `Cached content is too small. total_token_count=${tokens}, min_total_token_count=${minimum}`,
    );
  const expireTime = expiryOf(body, now) ?? now + DEFAULT_TTL_MS;
  const entry: CachedContent = {
    name: `cachedContents/${deps.ids.next("", 16).toLowerCase()}`,
    ...(typeof body.displayName === "string" ? { displayName: body.displayName } : {}),
    model: `models/${model}`,
    head,
    contents,
    blocks,
    tokens,
    createTime: now,
    updateTime: now,
    expireTime,
    billedFrom: now,
  };
  ns.gemini.create(entry);
  const billed = { uncached: 0, read: 0, write5m: 0, write1h: tokens, output: 0 };
  ns.stats.bill("gemini", billed);
  c.var.record.usage = billed;
  return c.json(cachedContentJson(entry));
}

export function getCachedContent(c: Context<SimEnv>, id: string): Response {
  const ns = c.var.ns;
  const name = `cachedContents/${id}`;
  const e = ns.gemini.get(name, ns.now());
  if (!e) throw notFound(name);
  return c.json(cachedContentJson(e));
}

export function listCachedContents(c: Context<SimEnv>): Response {
  const ns = c.var.ns;
  const all = ns.gemini.list(ns.now()).map(cachedContentJson);
  return c.json(all.length > 0 ? { cachedContents: all } : {});
}

/** `PATCH /v1beta/cachedContents/{id}?updateMask=ttl`: only the expiry can change. */
export function patchCachedContent(c: Context<SimEnv>, id: string): Response {
  const ns = c.var.ns;
  const now = ns.now();
  const name = `cachedContents/${id}`;
  const e = ns.gemini.get(name, now);
  if (!e) throw notFound(name);
  const body = parseBody(c);
  const mask = (c.req.query("updateMask") ?? c.req.query("update_mask") ?? "").split(",").filter(Boolean);
  const allowed = new Set(["ttl", "expireTime", "expire_time"]);
  if (
    mask.some((f) => !allowed.has(f)) ||
    Object.keys(body).some((k) => !["ttl", "expireTime", "name"].includes(k))
  )
    throw invalidArgument("Only ttl or expire_time can be updated on a CachedContent.");
  const expiry = expiryOf(body, now);
  if (expiry === undefined) throw invalidArgument("ttl or expire_time is required.");
  ns.gemini.retime(e, expiry, now);
  return c.json(cachedContentJson(e));
}

export function deleteCachedContent(c: Context<SimEnv>, id: string): Response {
  const ns = c.var.ns;
  const name = `cachedContents/${id}`;
  if (!ns.gemini.delete(name, ns.now())) throw notFound(name);
  return c.json({});
}

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import {
  AuditSchema,
  CreateTenantBody,
  ErrorSchema,
  PageQuery,
  ProviderKeysBody,
  SettingsBody,
  TenantId,
  TenantListSchema,
  TenantSchema,
  TenantWithKeySchema,
} from "../../analytics/schemas.ts";
import { iso } from "../../analytics/shape.ts";
import type { Config } from "../../core/config.ts";
import { StokerError } from "../../core/errors.ts";
import type { ProviderKeyName } from "../../core/provider.ts";
import type { RpcResult } from "../../core/rpc.ts";
import type { KeepaliveSettings } from "../../decide/keepalive-settings.ts";
import { poolFor } from "../../gpu/pool-client.ts";
import { directory } from "../../tenants/directory.ts";
import { digestsEqual, sha256 } from "../../tenants/keys.ts";
import { forgetResolved } from "../../tenants/resolve.ts";
import { tenantScope } from "../../tenants/scope.ts";
import type { Actor, TenantInfo } from "../../tenants/types.ts";
import { trackerFor } from "../../tracker/client.ts";
import type { AppEnv } from "../context.ts";

const security = [{ adminToken: [] }];
const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});
const err = (description: string) => json(ErrorSchema, description);
const common = {
  400: err("Invalid input"),
  401: err("Missing or wrong admin token"),
  404: err("Admin API off (no ADMIN_TOKEN), or no such tenant"),
};
const IdParam = z.object({ id: TenantId.openapi({ param: { name: "id", in: "path" } }) });

/** `Authorization: Bearer <ADMIN_TOKEN>`, compared as SHA-256 digests in constant time; off when unset. */
function adminAuth(): MiddlewareHandler<AppEnv> {
  return async function adminAuth(c, next) {
    const expected = c.var.config.adminTokenSha256;
    if (!expected)
      throw new StokerError(404, "not_found_error", "The admin API is off: set the ADMIN_TOKEN secret.");
    const bearer = c.req
      .header("authorization")
      ?.match(/^Bearer\s+(.+)$/i)?.[1]
      ?.trim();
    if (!bearer || !digestsEqual(await sha256(bearer), expected))
      throw new StokerError(
        401,
        "authentication_error",
        "Send the admin token as Authorization: Bearer <ADMIN_TOKEN>.",
      );
    await next();
  };
}

/** Who did it, for the audit log: `x-stoker-actor` (a name, not a secret) or "admin". */
function actorOf(headers: Headers, requestId: string): Actor {
  const named = headers.get("x-stoker-actor")?.trim();
  const actor = named && /^[\x20-\x7e]{1,64}$/.test(named) ? named : "admin";
  return { actor, requestId };
}

function unwrap<T>(r: RpcResult<T>, id: string): T {
  if (r.ok) return r.value;
  if (r.error === "not_found")
    throw new StokerError(404, "not_found_error", `No tenant ${id}.`, { param: "id" });
  if (r.error === "exists")
    throw new StokerError(409, "invalid_request_error", `Tenant ${id} already exists.`, { param: "id" });
  throw new StokerError(500, "api_error", "The tenant directory failed.");
}

function configTenant(config: Config, id: string) {
  return config.tenants.find((t) => t.id === id);
}

function refuseConfigTenant(config: Config, id: string, what: string): void {
  if (configTenant(config, id))
    throw new StokerError(
      409,
      "invalid_request_error",
      `Tenant ${id} is defined in the TENANTS config; change its ${what} there.`,
      { param: "id" },
    );
}

function shapeTenant(info: TenantInfo, keepalive: KeepaliveSettings) {
  return {
    ...info,
    created_at: info.created_at === null ? null : iso(info.created_at),
    key_rotated_at: info.key_rotated_at === null ? null : iso(info.key_rotated_at),
    keepalive,
  };
}

/** The admin body's keys by the names the directory stores them under (`compat:<name>` for compat upstreams). */
function providerKeyNames(
  config: Config,
  body: z.infer<typeof ProviderKeysBody>,
): Partial<Record<ProviderKeyName, string | null>> {
  const { compat, ...providers } = body;
  const out: Partial<Record<ProviderKeyName, string | null>> = { ...providers };
  for (const [name, key] of Object.entries(compat ?? {})) {
    if (!config.compat.has(name))
      throw new StokerError(
        400,
        "invalid_request_error",
        `compat.${name}: no such compat upstream (COMPAT_UPSTREAMS)`,
        {
          param: `compat.${name}`,
        },
      );
    out[`compat:${name}`] = key;
  }
  return out;
}

async function describe(env: Env, config: Config, id: string) {
  const fromConfig = configTenant(config, id);
  const info: TenantInfo | null = fromConfig
    ? {
        id,
        source: "config",
        generation: 0,
        created_at: null,
        key_set: true,
        key_rotated_at: null,
        provider_keys: { anthropic: false, openai: false, gemini: false, bedrock: false },
        provider_key_state: { anthropic: "unset", openai: "unset", gemini: "unset", bedrock: "unset" },
        compat_key_state: {},
        canonicalize: fromConfig.canonicalize,
        cache: fromConfig.cache,
      }
    : await directory(env).get(id);
  if (!info) throw new StokerError(404, "not_found_error", `No tenant ${id}.`, { param: "id" });
  const tracker = trackerFor(env, tenantScope(id, info.generation));
  const [keepalive, storage] = await Promise.all([tracker.keepaliveSettings(), tracker.storage()]);
  return { ...shapeTenant(info, keepalive), storage };
}

/** `/v1/admin/*`: tenants, their keys and settings, and the audit log. Every change is audited. */
export function mountAdmin(app: OpenAPIHono<AppEnv>): void {
  app.use("/v1/admin/*", adminAuth());

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/admin/tenants",
      summary: "Create a tenant; its key is returned once",
      security,
      request: { body: { content: { "application/json": { schema: CreateTenantBody } }, required: true } },
      responses: { 201: json(TenantWithKeySchema, "Created"), ...common, 409: err("The id exists") },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const config = c.var.config;
      if (configTenant(config, body.id))
        throw new StokerError(409, "invalid_request_error", `Tenant ${body.id} already exists.`, {
          param: "id",
        });
      const by = actorOf(c.req.raw.headers, c.var.requestId);
      const created = unwrap(
        await directory(c.env).create(body.id, body.canonicalize ?? {}, by, body.cache ?? {}),
        body.id,
      );
      const tracker = trackerFor(c.env, tenantScope(body.id, created.tenant.generation));
      let keepalive = await tracker.keepaliveSettings();
      if (body.keepalive) {
        keepalive = await tracker.configureKeepalive(body.keepalive);
        await directory(c.env).audit(by, "tenant.keepalive", body.id, { keepalive: body.keepalive });
      }
      forgetResolved();
      const storage = await tracker.storage();
      return c.json(
        { tenant: { ...shapeTenant(created.tenant, keepalive), storage }, key: created.key },
        201,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/admin/tenants",
      summary: "List tenants (config tenants first)",
      security,
      request: { query: PageQuery },
      responses: { 200: json(TenantListSchema, "One page"), ...common },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const offset = cursor === undefined ? 0 : Number(cursor);
      const config = c.var.config;
      const fromConfig = config.tenants.slice(offset, offset + limit + 1).map((t) => t.id);
      const dirOffset = Math.max(0, offset - config.tenants.length);
      const need = limit + 1 - fromConfig.length;
      const fromDir = need > 0 ? await directory(c.env).list(need, dirOffset) : [];
      const ids = [...fromConfig, ...fromDir.map((t) => t.id)];
      const shown = ids.slice(0, limit);
      const tenants = await Promise.all(shown.map((id) => describe(c.env, config, id)));
      return c.json({ tenants, next_cursor: ids.length > limit ? String(offset + limit) : null }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/admin/tenants/{id}",
      summary: "One tenant (never its keys)",
      security,
      request: { params: IdParam },
      responses: { 200: json(TenantSchema, "The tenant"), ...common },
    }),
    async (c) => c.json(await describe(c.env, c.var.config, c.req.valid("param").id), 200),
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/v1/admin/tenants/{id}/settings",
      summary: "Set canonicalization rules, cache settings and/or keepalive settings and budget",
      security,
      request: {
        params: IdParam,
        body: { content: { "application/json": { schema: SettingsBody } }, required: true },
      },
      responses: {
        200: json(TenantSchema, "Updated"),
        ...common,
        409: err("A config tenant's rules and cache settings live in config"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      const config = c.var.config;
      const by = actorOf(c.req.raw.headers, c.var.requestId);
      if (body.canonicalize) refuseConfigTenant(config, id, "canonicalization rules");
      if (body.cache) refuseConfigTenant(config, id, "cache settings");
      let generation = 0;
      if (body.canonicalize || body.cache) {
        if (body.canonicalize)
          generation = unwrap(
            await directory(c.env).setCanonicalize(id, body.canonicalize, by),
            id,
          ).generation;
        if (body.cache)
          generation = unwrap(await directory(c.env).setCache(id, body.cache, by), id).generation;
      } else if (!configTenant(config, id)) {
        const info = await directory(c.env).get(id);
        if (!info) throw new StokerError(404, "not_found_error", `No tenant ${id}.`, { param: "id" });
        generation = info.generation;
      }
      if (body.keepalive) {
        await trackerFor(c.env, tenantScope(id, generation)).configureKeepalive(body.keepalive);
        await directory(c.env).audit(by, "tenant.keepalive", id, { keepalive: body.keepalive });
      }
      forgetResolved();
      return c.json(await describe(c.env, config, id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/v1/admin/tenants/{id}/provider-keys",
      summary:
        "Set (string) or clear (null) the tenant's own provider keys; stored encrypted, never returned",
      security,
      request: {
        params: IdParam,
        body: { content: { "application/json": { schema: ProviderKeysBody } }, required: true },
      },
      responses: {
        200: json(TenantSchema, "Updated"),
        ...common,
        409: err("Config tenants use the deploy's keys"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      refuseConfigTenant(c.var.config, id, "provider keys");
      const by = actorOf(c.req.raw.headers, c.var.requestId);
      unwrap(
        await directory(c.env).setProviderKeys(id, providerKeyNames(c.var.config, c.req.valid("json")), by),
        id,
      );
      forgetResolved();
      return c.json(await describe(c.env, c.var.config, id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/v1/admin/tenants/{id}/rotate-key",
      summary: "Issue a new tenant key (returned once); the old one stops working",
      security,
      request: { params: IdParam },
      responses: { 200: json(TenantWithKeySchema, "Rotated"), ...common, 409: err("Config tenant") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      refuseConfigTenant(c.var.config, id, "key");
      const by = actorOf(c.req.raw.headers, c.var.requestId);
      const { key } = unwrap(await directory(c.env).rotateKey(id, by), id);
      forgetResolved();
      return c.json({ tenant: await describe(c.env, c.var.config, id), key }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/admin/tenants/{id}/key",
      summary: "Revoke the tenant's key (the tenant and its data stay; rotate-key issues a new one)",
      security,
      request: { params: IdParam },
      responses: { 200: json(TenantSchema, "Revoked"), ...common, 409: err("Config tenant") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      refuseConfigTenant(c.var.config, id, "key");
      unwrap(await directory(c.env).revokeKey(id, actorOf(c.req.raw.headers, c.var.requestId)), id);
      forgetResolved();
      return c.json(await describe(c.env, c.var.config, id), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/v1/admin/tenants/{id}",
      summary: "Delete a tenant and all its data (tracker rows, keepalive bodies, provider keys)",
      security,
      request: { params: IdParam },
      responses: {
        200: json(z.object({ deleted: z.string() }), "Deleted"),
        ...common,
        409: err("Config tenant"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      refuseConfigTenant(c.var.config, id, "existence");
      const by = actorOf(c.req.raw.headers, c.var.requestId);
      const dir = directory(c.env);
      // Key first (no new traffic), then the data, then the entry: a failure part-way can be retried.
      const { generation } = unwrap(await dir.revokeKey(id, by), id);
      forgetResolved();
      // Purged and tombstoned: a record still on its way (a stream that outlives the deletion) is refused.
      await trackerFor(c.env, tenantScope(id, generation)).purge();
      // GPU keepalive rows hold sealed prompts: every pool forgets the tenant too.
      for (const pool of c.var.config.gpuPools.keys())
        await poolFor(c.env, pool).forgetTenant(tenantScope(id, generation));
      unwrap(await dir.remove(id, by), id);
      return c.json({ deleted: id }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/v1/admin/audit",
      summary: "The audit log, newest first (who, when, what; never a secret)",
      security,
      request: { query: PageQuery },
      responses: { 200: json(AuditSchema, "One page"), ...common },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const rows = await directory(c.env).auditLog(limit + 1, cursor === undefined ? null : Number(cursor));
      const shown = rows.slice(0, limit);
      return c.json(
        {
          entries: shown.map((r) => ({
            ...r,
            at: iso(r.at),
            detail: JSON.parse(r.detail) as Record<string, unknown>,
          })),
          next_cursor: rows.length > limit ? String(shown[shown.length - 1]?.id) : null,
        },
        200,
      );
    },
  );
}

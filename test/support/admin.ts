import { expect } from "vitest";
import { TenantWithKeySchema } from "../../src/analytics/schemas.ts";
import { STOKER, workerFetch } from "./clients.ts";
import { ADMIN_TOKEN } from "./tenants.ts";

/** One admin API call through the worker. */
export async function admin(
  method: string,
  path: string,
  body?: unknown,
  token: string | null = ADMIN_TOKEN,
) {
  const res = await workerFetch(`${STOKER}${path}`, {
    method,
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      "x-stoker-actor": "ops@example.com",
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Creates a directory tenant through the admin API (with `extra` settings); its id and key. */
export async function adminTenant(extra: Record<string, unknown> = {}) {
  const id = `adm-${crypto.randomUUID().slice(0, 18)}`;
  const res = await admin("POST", "/v1/admin/tenants", { id, ...extra });
  expect(res.status).toBe(201);
  return { id, ...TenantWithKeySchema.parse(res.body) };
}

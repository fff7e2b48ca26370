import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app.ts";
import { v1Routes } from "../../src/edge/routes/v1.ts";
import { STOKER, workerFetch } from "../support/clients.ts";

interface Doc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<
    string,
    Record<
      string,
      {
        responses: Record<string, unknown>;
        security?: unknown[];
        parameters?: { name: string; in: string }[];
      }
    >
  >;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
}

async function doc(): Promise<Doc> {
  const res = await workerFetch(`${STOKER}/v1/openapi.json`);
  expect(res.status).toBe(200);
  return (await res.json()) as Doc;
}

/** Resolves every `$ref` in the document; returns the ones that point nowhere. */
function danglingRefs(d: Doc): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if (k === "$ref" && typeof x === "string") {
          const name = x.replace("#/components/schemas/", "");
          if (!x.startsWith("#/components/schemas/") || !(name in d.components.schemas)) out.push(x);
        } else walk(x);
      }
    }
  };
  walk(d);
  return out;
}

describe("GET /v1/openapi.json", () => {
  it("is an OpenAPI 3.1 document whose $refs all resolve", async () => {
    const d = await doc();
    expect(d.openapi).toBe("3.1.0");
    expect(d.info.title).toMatch(/Stoker/);
    expect(danglingRefs(d)).toEqual([]);
    expect(Object.keys(d.components.securitySchemes).sort()).toEqual(["adminToken", "tenantKey"]);
    for (const [path, ops] of Object.entries(d.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        expect(op.responses, `${method} ${path}`).toHaveProperty(
          method === "post" && path === "/v1/admin/tenants" ? "201" : "200",
        );
        expect(op.responses, `${method} ${path}`).toHaveProperty("400");
        expect(op.security?.length, `${method} ${path} declares its auth`).toBe(1);
      }
    }
  });

  it("names the Gemini upstream and its key headers", async () => {
    const text = JSON.stringify(await doc());
    expect(text).toContain("`gemini`");
    expect(text).toContain("x-goog-api-key");
  });

  it("documents exactly the routes the app serves under /v1", async () => {
    const d = await doc();
    const documented = Object.entries(d.paths)
      .flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`),
      )
      .sort();
    const served = v1Routes()
      .routes.filter((r) => r.method !== "ALL" && r.path !== "/v1/openapi.json")
      .map((r) => `${r.method} ${r.path}`);
    expect([...new Set(served)].sort()).toEqual(documented);
    // And the real app answers each documented path (no 404 from a missing mount).
    const app = createApp();
    expect(app.routes.some((r) => r.path === "/v1/analytics/summary")).toBe(true);
    for (const route of documented.filter((r) => r.startsWith("GET /v1/analytics"))) {
      const res = await workerFetch(`${STOKER}${route.slice(4)}`);
      expect(res.status, route).toBe(401);
    }
  });
});

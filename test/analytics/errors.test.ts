import { describe, expect, it } from "vitest";
import { ErrorSchema } from "../../src/analytics/schemas.ts";
import { api } from "../support/analytics.ts";
import { freshTenant } from "../support/tenants.ts";

const t = freshTenant();

describe("analytics parameters", () => {
  const cases: [string, string | null][] = [
    ["/v1/analytics/summary?from=yesterday", "from"],
    ["/v1/analytics/summary?to=2026-13-45T00:00:00Z", "to"],
    ["/v1/analytics/summary?from=2026-11-27T10:00:00Z&to=2026-11-27T09:00:00Z", "from"],
    ["/v1/analytics/summary?from=2026-01-01T00:00:00Z&to=2026-11-27T00:00:00Z", "from"],
    ["/v1/analytics/timeseries?bucket=7m", "bucket"],
    ["/v1/analytics/timeseries?bucket=5m&from=2026-11-01T00:00:00Z&to=2026-11-27T00:00:00Z", "bucket"],
    ["/v1/analytics/prefixes?limit=0", "limit"],
    ["/v1/analytics/prefixes?limit=1000", "limit"],
    ["/v1/analytics/prefixes?limit=ten", "limit"],
    ["/v1/analytics/busters?cursor=abc", "cursor"],
    ["/v1/analytics/busters?cursor=-1", "cursor"],
  ];
  for (const [path, param] of cases) {
    it(`${path} → 400 naming ${param}`, async () => {
      const { status, body } = await api(path, t.key);
      expect(status).toBe(400);
      const e = ErrorSchema.parse(body);
      expect(e.error.type).toBe("invalid_request_error");
      expect(e.error.param).toBe(param);
      expect(e.error.message.length).toBeGreaterThan(10);
    });
  }

  it("no key → 401, unknown key → 401, both in the same error shape", async () => {
    for (const key of [null, "sk-stoker-nobody"]) {
      const { status, body } = await api("/v1/analytics/summary", key);
      expect(status).toBe(401);
      expect(ErrorSchema.parse(body).error.code).toBe("invalid_api_key");
    }
  });

  it("an unknown analytics path is a 404 in the same shape", async () => {
    const { status, body } = await api("/v1/analytics/nope", t.key);
    expect(status).toBe(404);
    expect(ErrorSchema.parse(body).error.type).toBe("invalid_request_error");
  });
});

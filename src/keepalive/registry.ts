import { DurableObject } from "cloudflare:workers";

/** Tenants answered per cron run: each costs one Durable Object call (a subrequest). */
export const CRON_BATCH = 200;

/**
 * The tenants that have live keepalive candidates, with their next deadline, so the cron never scans every
 * tenant: one object (`idFromName("global")`), one small row per tenant with something to keep alive.
 */
export class KeepaliveRegistry extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS due (tenant TEXT PRIMARY KEY, at INTEGER NOT NULL)");
      ctx.storage.sql.exec("CREATE INDEX IF NOT EXISTS due_at ON due (at)");
    });
  }

  /** A tenant's next keepalive deadline, or null when it has none. */
  async set(tenant: string, at: number | null): Promise<void> {
    if (typeof tenant !== "string" || tenant.length === 0 || tenant.length > 64) return;
    if (at === null) this.ctx.storage.sql.exec("DELETE FROM due WHERE tenant = ?", tenant);
    else if (Number.isSafeInteger(at)) {
      this.ctx.storage.sql.exec(
        "INSERT INTO due (tenant, at) VALUES (?, ?) ON CONFLICT (tenant) DO UPDATE SET at = excluded.at",
        tenant,
        at,
      );
    }
  }

  /** Tenants whose deadline is at or before `untilMs`, earliest first. */
  async due(untilMs: number, limit = CRON_BATCH): Promise<string[]> {
    return this.ctx.storage.sql
      .exec<{ tenant: string }>("SELECT tenant FROM due WHERE at <= ? ORDER BY at LIMIT ?", untilMs, limit)
      .toArray()
      .map((r) => r.tenant);
  }
}

export function registry(env: Env): DurableObjectStub<KeepaliveRegistry> {
  const ns = env.KEEPALIVE_REGISTRY as DurableObjectNamespace<KeepaliveRegistry>;
  return ns.get(ns.idFromName("global"));
}

import { env } from "cloudflare:workers";
import type { Tracker } from "../../src/tracker/tracker.ts";
import type { Totals } from "../../src/tracker/types.ts";

export function tracker(tenantId: string): DurableObjectStub<Tracker> {
  const ns = env.TRACKER as DurableObjectNamespace<Tracker>;
  return ns.get(ns.idFromName(tenantId));
}

/** Polls until `check` passes (records land via waitUntil, after the response). */
export async function eventually<T>(
  read: () => Promise<T>,
  check: (v: T) => boolean,
  timeoutMs = 5000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (check(v)) return v;
    if (Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The tracker's totals once it has recorded `requests` requests. */
export function totalsAfter(tenantId: string, requests: number): Promise<Totals> {
  return eventually(
    async () => (await tracker(tenantId).totals()) as Totals,
    (t) => t.requests >= requests,
  );
}

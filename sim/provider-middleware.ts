import type { MiddlewareHandler } from "hono";
import type { SimDeps, SimEnv } from "./context.ts";
import type { Provider } from "./errors.ts";
import { applyBodyFault, takeFault } from "./faults.ts";
import { namespaceOf } from "./namespace.ts";
import { errorResponse } from "./provider-errors.ts";
import { sleep } from "./sse.ts";

/** Milliseconds the simulator spent on a request, from its whole body read to its response's headers. */
export const SERVICE_HEADER = "x-sim-service-ms";

/**
 * Runs before every provider route: picks the namespace, records the request, then applies the next armed
 * fault (delay, error status, or a cut body) around the real handler.
 */
export function providerRequest(provider: Provider, deps: SimDeps): MiddlewareHandler<SimEnv> {
  return async function providerRequest(c, next) {
    const ns = deps.namespaces.get(namespaceOf(c.req.raw.headers, new URL(c.req.url)));
    // Stoker under DEV_CLOCK sends its shared clock: the namespace's clock follows it forward, never back.
    const shared = Number(c.req.header("x-sim-now"));
    if (Number.isFinite(shared) && shared > ns.now()) ns.offsetMs += shared - ns.now();
    const body = await c.req.text();
    // From the whole body read to the response's headers: the simulator's own work, which a benchmark takes
    // out of a proxy's time (a proxy that asks for more, like cache diagnostics, makes it work more).
    const readAt = performance.now();
    const url = new URL(c.req.url);
    const headers: Record<string, string> = {};
    c.req.raw.headers.forEach((value, key) => {
      headers[key] = value;
    });
    const record = ns.record({
      provider,
      method: c.req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      body,
    });
    const requestId = deps.ids.next("req_", 24);
    c.set("provider", provider);
    c.set("ns", ns);
    c.set("body", body);
    c.set("record", record);
    c.set("requestId", requestId);

    const fault = takeFault(ns.faults, provider);
    record.fault = fault ?? null;
    if (fault?.delay_ms) await sleep(fault.delay_ms);
    if (fault?.status !== undefined) {
      const retryAfter = fault.retry_after_seconds ?? (fault.status === 429 ? 1 : undefined);
      const res = errorResponse(
        provider,
        {
          status: fault.status,
          message: fault.message ?? "",
          ...(fault.error_type !== undefined ? { type: fault.error_type } : {}),
          ...(retryAfter !== undefined ? { headers: { "retry-after": String(retryAfter) } } : {}),
        },
        requestId,
      );
      record.status = res.status;
      ns.stats.error(provider);
      return res;
    }
    await next();
    c.res.headers.set(SERVICE_HEADER, (performance.now() - readAt).toFixed(3));
    record.status = c.res.status;
    if (c.res.status >= 400) ns.stats.error(provider);
    if (fault) {
      const cut = await applyBodyFault(c.res, fault);
      // Clear first: Hono's setter copies the old headers (a stale content-length) onto the new response.
      c.res = undefined;
      c.res = cut;
    }
  };
}

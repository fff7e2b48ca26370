import type { Context } from "hono";
import type { AppEnv } from "./context.ts";

/**
 * Runs `work` on a later turn of the event loop, the request's context kept open for it (`waitUntil`): work
 * for the next turn or the tracker never delays what this turn sends (the request's body on its way
 * upstream is sent between JavaScript turns, and so are the response's bytes). Work that throws is logged
 * as an `edge.fault` with `op` and never reaches the client.
 */
export function afterThisTurn(c: Context<AppEnv>, op: string, work: () => unknown): void {
  c.executionCtx.waitUntil(
    new Promise<void>((resolve) => setTimeout(resolve, 0)).then(work).then(
      () => {},
      (err: unknown) =>
        c.var.log.warn("edge.fault", { op, fault: err instanceof Error ? err.name : "unknown" }),
    ),
  );
}

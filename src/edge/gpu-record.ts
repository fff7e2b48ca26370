import type { Context } from "hono";
import { type GpuOutcome, gpuAccounting, gpuRecord } from "../gpu/record.ts";
import { recordSafely } from "../tracker/client.ts";
import { accountingLogFields } from "../upstream/accounting.ts";
import { afterThisTurn } from "./after-turn.ts";
import type { AppEnv } from "./context.ts";

/** One log line (counts only) and, after the response, one tracker record, both from the request's accounting. Never fails the request. */
export function recordGpu(c: Context<AppEnv>, o: GpuOutcome): void {
  const log = c.var.log;
  const accounting = gpuAccounting(o);
  log.info(
    "request.done",
    accountingLogFields(accounting, { tenant: o.tenantId, backend: o.backend, attempts: o.attempts }),
  );
  afterThisTurn(c, "gpu-record", () => recordSafely(c.env, o.tenantId, gpuRecord(o, false, accounting), log));
}

import { runInDurableObject } from "cloudflare:test";
import type { Tracker } from "../../src/tracker/tracker.ts";
import { tracker } from "./tracker.ts";

/** Closes the tenant's tracker to every call for `ms` (its input gate): it answers nothing meanwhile. */
export function silence(tenantId: string, ms: number): Promise<void> {
  return runInDurableObject(tracker(tenantId), (_i, state) =>
    state.blockConcurrencyWhile(() => new Promise<void>((r) => setTimeout(r, ms))),
  );
}

type Counted = Tracker & { batches?: number; failures?: number; failAfterStoring?: boolean };

/**
 * Fault injection at the tracker's RPC boundary (each instance counts for itself): counts `recordMany` calls,
 * and makes the next `failures` of them throw, after storing the batch when `failAfterStoring` (the edge
 * then never hears that the tracker has it).
 */
export async function instrument(
  tenantId: string,
  failures = 0,
  failAfterStoring = false,
): Promise<() => Promise<number>> {
  await runInDurableObject(tracker(tenantId), (instance: Tracker) => {
    const proto = Object.getPrototypeOf(instance) as { recordMany: Tracker["recordMany"]; faulty?: true };
    if (!proto.faulty) {
      const original = proto.recordMany;
      proto.recordMany = async function (this: Counted, ...args) {
        this.batches = (this.batches ?? 0) + 1;
        if ((this.failures ?? 0) > 0) {
          this.failures = (this.failures ?? 0) - 1;
          if (this.failAfterStoring) await original.apply(this, args);
          throw new Error("injected: the tracker is overloaded");
        }
        return original.apply(this, args);
      };
      proto.faulty = true;
    }
    const i = instance as Counted;
    i.batches = 0;
    i.failures = failures;
    i.failAfterStoring = failAfterStoring;
  });
  return () => runInDurableObject(tracker(tenantId), (i: Tracker) => (i as Counted).batches ?? 0);
}

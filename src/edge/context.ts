import type { Config } from "../config.ts";
import type { Tenant } from "./auth.ts";
import type { Flavor } from "./errors.ts";
import type { Logger } from "./log.ts";

/** Request-scoped values, typed once for every `c.get` / `c.var`. */
export interface Vars {
  requestId: string;
  config: Config;
  log: Logger;
  /** The error shape of the route family; set by the route prefix. */
  flavor: Flavor;
  tenant: Tenant;
}

export type AppEnv = { Bindings: Env; Variables: Vars };

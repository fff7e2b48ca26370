import type { Config } from "../core/config.ts";
import type { Logger } from "../core/log.ts";
import type { Provider } from "../core/provider.ts";
import type { ModelInfo } from "../economics/models.ts";
import type { Tenant } from "./auth.ts";

/** Request-scoped values, typed once for every `c.get` / `c.var`. */
export interface Vars {
  requestId: string;
  config: Config;
  log: Logger;
  /** The error shape of the route family; set by the route prefix. */
  flavor: Provider;
  tenant: Tenant;
  /** The proxied request's model row, looked up once (proxy.ts) for canonicalize, plan and the record. */
  model?: ModelInfo;
}

export type AppEnv = { Bindings: Env; Variables: Vars };

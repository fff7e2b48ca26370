import type { Provider } from "./errors.ts";
import type { IdFactory } from "./ids.ts";
import type { Namespace, Namespaces, RecordedRequest } from "./namespace.ts";
import type { ResolvedOptions } from "./options.ts";

/** Request-scoped values set by the provider middleware. */
export interface SimVariables {
  provider: Provider;
  ns: Namespace;
  /** The raw request body text. */
  body: string;
  record: RecordedRequest;
  requestId: string;
}

/** The Hono environment of every simulator app. */
export interface SimEnv {
  Variables: SimVariables;
}

/** What the route modules share. */
export interface SimDeps {
  opts: ResolvedOptions;
  namespaces: Namespaces;
  ids: IdFactory;
}

/** RPC answers carry expected failures as values: a throw across RPC is reported as uncaught by workerd. */
export type RpcResult<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * A tenant's storage scope: the name its tracker, salts, sealing keys and keepalive registry entry use. Each
 * creation of a tenant id gets its own generation (the directory's tombstone remembers the last one), so a
 * tenant created again after a deletion never meets its predecessor's data. Generation 0 is the bare id:
 * config tenants and tenants created before generations existed keep their data. `~` never appears in ids.
 */
export function tenantScope(id: string, generation: number): string {
  return generation > 0 ? `${id}~${generation}` : id;
}

/** The id and generation of a scope (`tenantScope`'s inverse). */
export function parseScope(scope: string): { id: string; generation: number } {
  const i = scope.lastIndexOf("~");
  if (i < 0) return { id: scope, generation: 0 };
  const generation = Number(scope.slice(i + 1));
  return Number.isSafeInteger(generation) && generation > 0
    ? { id: scope.slice(0, i), generation }
    : { id: scope, generation: 0 };
}

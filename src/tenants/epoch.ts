let epoch = 0;

/** Marks an admin change of tenants (a key revoked or rotated, a tenant deleted) in this isolate. */
export function bumpTenantEpoch(): void {
  epoch++;
}

/** Moves on every `bumpTenantEpoch`: per-isolate caches of tenant state drop theirs when it does. */
export function tenantEpoch(): number {
  return epoch;
}

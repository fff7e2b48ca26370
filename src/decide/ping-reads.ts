/**
 * How often a tenant's keepalive pings to one provider found their entry (read it from cache). A ping that
 * finds nothing pays the whole prompt and keeps nothing, so its value scales by this chance (decidePing).
 * Counts are halved past a cap, so the figure follows a provider whose routing or eviction changes.
 */
export interface PingReads {
  sent: number;
  read: number;
}

/**
 * A new tenant's expectation: 9 pings in 10 find their entry, worth 4 pings of evidence. A judgement, not a
 * fit: on the simulators a ping sent before the entry's believed deadline reads it (Anthropic always; OpenAI
 * on the Mooncake training half, 1,057 of 1,057 once keys carry about 5 requests a minute); the small weight
 * lets a tenant whose pings miss stop after three or four misses.
 */
export const PING_READ_PRIOR = { chance: 0.9, weight: 4 } as const;

/** Past this many pings both counts are halved. */
const CAP = 200;

/** The counts after one more ping that did (`read`) or did not find its entry. */
export function notePingRead(prev: PingReads | undefined, read: boolean): PingReads {
  const sent = (prev?.sent ?? 0) + 1;
  const hits = (prev?.read ?? 0) + (read ? 1 : 0);
  return sent > CAP ? { sent: sent / 2, read: hits / 2 } : { sent, read: hits };
}

/** The chance that the next ping finds its entry: the tenant's counts shrunk to the prior. */
export function readChance(t: PingReads | undefined): number {
  const { chance, weight } = PING_READ_PRIOR;
  return ((t?.read ?? 0) + chance * weight) / ((t?.sent ?? 0) + weight);
}

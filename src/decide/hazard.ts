import { classOf, type FamilyGaps, type GapHistory, type Standing, TURN_CLASSES, WINDOWS } from "./gaps.ts";

/**
 * Prior for a family with no history, per use class (1, 2, 3-5, 6+ uses): the chance that the prefix is
 * used again within the hour, three quarters of it within the first 5 minutes, the rest ever more rarely
 * (each window 0.6 of the one before). A prefix seen once gets 0.25 (0.19 within 5 minutes: below what a 5m
 * write needs, like the planner's first-turn prior), one seen again ever more. Written as pseudo-counts of
 * `PRIOR_WEIGHT` prefixes per cell, so a family's own data outweighs it after a handful of prefixes.
 */
const PRIOR_RETURN: readonly number[] = [0.25, 0.5, 0.65, 0.8];
const PRIOR_FIRST_WINDOW = 0.75;
const PRIOR_DECAY = 0.6;
export const PRIOR_WEIGHT = 5;
/** Pseudo-gaps drawn from the family's shape that a prefix's own gaps are blended with. */
export const OWN_WEIGHT = 2;

/** The prior's return probability per window for a use class (sums to its PRIOR_RETURN). */
export function priorQ(useClass: number): number[] {
  const back = PRIOR_RETURN[Math.min(Math.max(useClass, 0), PRIOR_RETURN.length - 1)] as number;
  const tail = Array.from({ length: WINDOWS - 1 }, (_, i) => PRIOR_DECAY ** i);
  const tailSum = tail.reduce((a, b) => a + b, 0);
  const late = back * (1 - PRIOR_FIRST_WINDOW);
  return [back * PRIOR_FIRST_WINDOW, ...tail.map((w) => (late * w) / tailSum)];
}

/** Discrete-time hazards (chance of coming back in window j given not yet) from a return distribution. */
export function hazardsOf(q: readonly number[]): number[] {
  let survive = 1;
  return q.map((qj) => {
    const h = survive > 1e-12 ? Math.min(qj / survive, 1) : 0;
    survive -= qj;
    return h;
  });
}

/** A return distribution from hazards. */
function distributionOf(h: readonly number[]): number[] {
  let survive = 1;
  return h.map((hj) => {
    const q = survive * hj;
    survive -= q;
    return q;
  });
}

const PRIOR_H: readonly (readonly number[])[] = PRIOR_RETURN.map((_, u) => hazardsOf(priorQ(u)));

/**
 * A table's hazards for one class, shrunk towards the same table's hazards for the same use class over all
 * turn classes, which are in turn shrunk towards `base`: a class with little data borrows from its
 * neighbours, a table with little data from the level above it.
 */
function shrunkHazards(table: FamilyGaps, s: Standing, base: readonly number[]): number[] {
  const cls = classOf(s);
  const u = Math.floor(cls / TURN_CLASSES.length);
  const at = cls * WINDOWS;
  const out: number[] = [];
  for (let j = 0; j < WINDOWS; j++) {
    let atRisk = 0;
    let returns = 0;
    for (let t = 0; t < TURN_CLASSES.length; t++) {
      const i = (u * TURN_CLASSES.length + t) * WINDOWS + j;
      atRisk += table.atRisk[i] ?? 0;
      returns += table.returns[i] ?? 0;
    }
    const pooled = (returns + PRIOR_WEIGHT * (base[j] ?? 0)) / (atRisk + PRIOR_WEIGHT);
    const own = (table.returns[at + j] ?? 0) + PRIOR_WEIGHT * pooled;
    out.push(clamp01(own / ((table.atRisk[at + j] ?? 0) + PRIOR_WEIGHT)));
  }
  return out;
}

/**
 * The hazards for one class: the prior (fitted, shipped in code), shrunk towards the tenant's table (all its
 * families pooled), shrunk towards the family's. A new family starts from what its tenant has shown; a family
 * with a few dozen closed windows of its own speaks for itself. Nothing outside the tenant enters.
 */
export function familyHazards(
  family: FamilyGaps | null,
  s: Standing,
  tenant: FamilyGaps | null = null,
): number[] {
  const u = Math.floor(classOf(s) / TURN_CLASSES.length);
  const prior = PRIOR_H[u] as readonly number[];
  const tenantH = tenant ? shrunkHazards(tenant, s, prior) : [...prior];
  return family ? shrunkHazards(family, s, tenantH) : tenantH;
}

/**
 * The chance that this prefix's next use falls in each idle window (index j: window j; what the entries
 * leave to 1 is "not within the horizon"). Whether it comes back is the family's figure for its class;
 * when, within the horizon, blends the family's timing with the prefix's own gaps.
 */
export function returnDistribution(h: GapHistory): number[] {
  const fam = distributionOf(familyHazards(h.family, h, h.tenant ?? null));
  const pReturn = fam.reduce((a, b) => a + b, 0);
  if (pReturn <= 0) return fam;
  let ownCount = 0;
  for (let j = 0; j <= WINDOWS; j++) ownCount += h.own[j] ?? 0;
  if (ownCount === 0) return fam;
  // Own gaps beyond the horizon (index WINDOWS) keep their share of the mass out of every window.
  return fam.map(
    (q, j) => (pReturn * ((h.own[j] ?? 0) + (OWN_WEIGHT * q) / pReturn)) / (ownCount + OWN_WEIGHT),
  );
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}
